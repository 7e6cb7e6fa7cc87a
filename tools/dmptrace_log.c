// SPDX-License-Identifier: GPL-2.0
/*
 * dmptrace: the lines of the log, text or JSON.  Built by hand in a
 * buffer, with integers only: printf's conversions (floating point above
 * all) were most of what a logged request cost dmptrace.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dmptrace.h"

static FILE *out;
static int json, with_files, namew;
static uint64_t t0, real0;	/* ns: CLOCK_MONOTONIC and CLOCK_REALTIME */
static char *buf;
static size_t len, cap;

static void room(size_t n)
{
	if (len + n <= cap)
		return;
	while (len + n > cap)
		cap = cap ? 2 * cap : 1024;
	buf = xrealloc(buf, cap, 1);
}

static void put(const char *s, size_t n)
{
	if (!n)
		return;
	room(n);
	memcpy(buf + len, s, n);
	len += n;
}

static void puts_(const char *s)
{
	put(s, strlen(s));
}

static void putch(char c)
{
	room(1);
	buf[len++] = c;
}

static void pad(size_t n)
{
	if (!n)
		return;
	room(n);
	memset(buf + len, ' ', n);
	len += n;
}

/* @v in decimal, at least @digits digits (zero-filled), right-aligned in @w */
static void num(uint64_t v, int digits, int w)
{
	char d[24];
	int n = 0;

	do {
		d[n++] = '0' + v % 10;
		v /= 10;
	} while (v || n < digits);
	if (w > n)
		pad(w - n);
	room(n);
	while (n)
		buf[len++] = d[--n];
}

static void snum(int64_t v, int w)
{
	char d[24];
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
	int n = 0;

	do {
		d[n++] = '0' + u % 10;
		u /= 10;
	} while (u);
	if (v < 0)
		d[n++] = '-';
	if (w > n)
		pad(w - n);
	room(n);
	while (n)
		buf[len++] = d[--n];
}

/* v / 10^scale with @decimals decimals (v already rounded), in @w */
static void fixed(int64_t v, int decimals, int w)
{
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v, div = 1;
	char tmp[48];
	size_t mark;
	int i;

	for (i = 0; i < decimals; i++)
		div *= 10;
	mark = len;
	if (v < 0)
		putch('-');
	num(u / div, 1, 0);
	putch('.');
	num(u % div, decimals, 0);
	if ((int)(len - mark) < w) {
		size_t n = len - mark;

		memcpy(tmp, buf + mark, n);
		len = mark;
		pad(w - n);
		put(tmp, n);
	}
}

/* a string left-aligned in @w */
static void left(const char *s, int w)
{
	size_t n = strlen(s);

	put(s, n);
	if ((int)n < w)
		pad(w - n);
}

/* text: no blanks, backslashes or control characters (\xHH instead) */
static void text(const char *s)
{
	static const char hex[] = "0123456789abcdef";

	if (!*s) {
		putch('-');
		return;
	}
	for (; *s; s++) {
		unsigned char c = *s;

		if (c <= ' ' || c == '\\' || c == 0x7f) {
			char e[4] = { '\\', 'x', hex[c >> 4], hex[c & 15] };

			put(e, 4);
		} else {
			putch(c);
		}
	}
}

static void jstr(const char *s)
{
	static const char hex[] = "0123456789abcdef";

	putch('"');
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\') {
			putch('\\');
			putch(c);
		} else if (c < 0x20 || c == 0x7f) {
			char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

			put(e, 6);
		} else {
			putch(c);
		}
	}
	putch('"');
}

static int blank(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == '\\' || *s == 0x7f)
			return 1;
	return 0;
}

static void flush_line(void)
{
	fwrite(buf, 1, len, out);
	len = 0;
}

void log_init(FILE *f, int as_json, int files_, int name_width,
	      uint64_t mono0, uint64_t realtime0)
{
	out = f;
	json = as_json;
	with_files = files_;
	namew = name_width;
	t0 = mono0;
	real0 = realtime0;
}

void log_header(void)
{
	if (json)
		return;
	fprintf(out, "%12s %-*s %-7s %-4s %12s %8s %10s %4s %7s %s\n", "TIME",
		namew, "DEVICE", "MAJ:MIN", "RWBS", "SECTOR", "BYTES", "LAT_US",
		"ERR", "PID", with_files ? "COMM             FILES" : "COMM");
}

static int64_t rel_ns(uint64_t ts)
{
	return (int64_t)(ts - t0);
}

/* ns to units of 10^-decimals s, rounded half away from zero */
static int64_t round_to(int64_t ns, int decimals)
{
	int64_t div = 1;
	int i;

	for (i = decimals; i < 9; i++)
		div *= 10;
	return ns < 0 ? -((-ns + div / 2) / div) : (ns + div / 2) / div;
}

void log_lost(const struct ev *e)
{
	if (json) {
		puts_("{\"time\":");
		fixed(rel_ns(e->ts), 9, 0);
		puts_(",\"lost\":");
		if (e->lost < 0)
			puts_("null");
		else
			num(e->lost, 1, 0);
		puts_(",\"cpu\":");
		num(e->cpu, 1, 0);
		puts_("}\n");
	} else {
		puts_("# CPU ");
		num(e->cpu, 1, 0);
		if (e->lost < 0) {
			puts_(" lost events here (ring buffer overrun)\n");
		} else {
			puts_(" lost ");
			num(e->lost, 1, 0);
			puts_(" events here (ring buffer overrun)\n");
		}
	}
	flush_line();
}

void log_req(const struct ev *e, const struct dt_dev *d, const size_t *hit,
	     size_t nhit)
{
	int64_t t = rel_ns(e->ts);
	size_t k;

	if (json) {
		puts_("{\"time\":");
		fixed(t, 9, 0);
		puts_(",\"timestamp\":");
		fixed(round_to((int64_t)real0 + t, 6), 6, 0);
		puts_(",\"device\":");
		jstr(dev_label(d));
		puts_(",\"devt\":\"");
		puts_(d->id);
		puts_("\",\"rwbs\":");
		jstr(e->rwbs);
		puts_(",\"sector\":");
		num(e->sector, 1, 0);
		puts_(",\"bytes\":");
		num(e->bytes, 1, 0);
		puts_(",\"lat_ns\":");
		num(e->lat_ns, 1, 0);
		puts_(",\"error\":");
		snum(e->error, 0);
		puts_(",\"pid\":");
		snum(e->pid, 0);
		puts_(",\"comm\":");
		jstr(e->comm);
		if (with_files) {
			puts_(",\"files\":[");
			for (k = 0; k < nhit; k++) {
				if (k)
					putch(',');
				jstr(files[hit[k]].path);
			}
			putch(']');
		}
		puts_("}\n");
		flush_line();
		return;
	}
	/* TIME DEVICE MAJ:MIN RWBS SECTOR BYTES LAT_US ERR PID COMM [FILES] */
	fixed(round_to(t, 6), 6, 12);
	putch(' ');
	if (blank(dev_label(d)))
		text(dev_label(d));
	else
		left(dev_label(d), namew);
	putch(' ');
	left(d->id, 7);
	putch(' ');
	left(e->rwbs, 4);
	putch(' ');
	num(e->sector, 1, 12);
	putch(' ');
	num(e->bytes, 1, 8);
	putch(' ');
	fixed((e->lat_ns + 50) / 100, 1, 10);	/* microseconds, 1 decimal */
	putch(' ');
	snum(e->error, 4);
	putch(' ');
	snum(e->pid, 7);
	putch(' ');
	if (!with_files || blank(e->comm) || !e->comm[0])
		text(e->comm);
	else
		left(e->comm, 16);
	if (with_files) {
		putch(' ');
		if (!nhit)
			puts_("other");
		for (k = 0; k < nhit; k++) {
			if (k)
				putch(',');
			text(files[hit[k]].path);
		}
	}
	putch('\n');
	flush_line();
}
