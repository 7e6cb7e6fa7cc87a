// SPDX-License-Identifier: GPL-2.0
/*
 * dmpstat --prometheus: the counters in the Prometheus text exposition
 * format, as node_exporter's textfile collector reads it.  Every series has
 * a "device" label (the device-mapper name, or "all") and, for devices, a
 * "devt" label (major:minor).  Counters end in _total, units are bytes and
 * seconds; the histograms' buckets are cumulative and their +Inf bucket
 * equals _count.  dmp_start_time_seconds says when the counts began (in
 * the manner of process_start_time_seconds), so that a query can tell a
 * reset followed by more traffic from traffic.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dmpstat.h"

static const struct {
	const char *name, *type, *help;
	int stat;
} scalars[] = {
	{ "dmp_read_requests_total", "counter", "Read requests mapped by dmp.", S_READ_REQS },
	{ "dmp_write_requests_total", "counter", "Write requests with data mapped by dmp.", S_WRITE_REQS },
	{ "dmp_read_bytes_total", "counter", "Bytes read through dmp.", S_READ_BYTES },
	{ "dmp_write_bytes_total", "counter", "Bytes written through dmp.", S_WRITE_BYTES },
	{ "dmp_flush_requests_total", "counter", "Empty flush requests mapped by dmp.", S_FLUSH_REQS },
	{ "dmp_discard_requests_total", "counter", "Discard, secure erase and write-zeroes requests mapped by dmp.", S_DISCARD_REQS },
	{ "dmp_discard_bytes_total", "counter", "Bytes covered by discard, secure erase and write-zeroes requests.", S_DISCARD_BYTES },
	{ "dmp_read_errors_total", "counter", "Reads that completed with an error.", S_READ_ERRORS },
	{ "dmp_write_errors_total", "counter", "Writes that completed with an error.", S_WRITE_ERRORS },
	{ "dmp_read_sequential_requests_total", "counter", "Reads that started where the previous read on the same CPU ended.", S_READ_SEQ },
	{ "dmp_write_sequential_requests_total", "counter", "Writes that started where the previous write on the same CPU ended.", S_WRITE_SEQ },
	{ "dmp_in_flight_requests", "gauge", "Requests mapped by dmp and not yet completed.", S_IN_FLIGHT },
};

/* A label value: backslash, double quote and newline escaped. */
static void label(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

/* {device="dmp1",devt="254:0" plus @more (e.g. ,le="1"), then } */
static void labels(FILE *f, const struct dev *d, const char *more)
{
	fputs("{device=\"", f);
	label(f, dev_label(d));
	fputc('"', f);
	if (!d->is_all)
		fprintf(f, ",devt=\"%s\"", d->id);
	fprintf(f, "%s}", more);
}

static void head(FILE *f, const char *name, const char *type,
		 const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/*
 * The le of bucket i.  dmp's buckets exclude their upper bound, Prometheus'
 * include it: for sizes, whole bytes, "< 4096" is exactly le="4095"; for
 * latencies le is the bound itself, 2^i us in seconds.
 */
static void bound(char *buf, size_t len, int lat, int i)
{
	if (lat)
		snprintf(buf, len, "%.6f", (1u << i) / 1e6);
	else
		snprintf(buf, len, "%u", (1024u << i) - 1);
}

static void histogram(FILE *f, const struct snap *s, const struct select *sel,
		      int lat, int dir)
{
	static const char *const what[2] = { "read", "write" };
	int n = lat ? LAT_BUCKETS : SIZE_BUCKETS;
	char name[64], help[160], le[64], b[32];
	size_t k;
	int i;

	snprintf(name, sizeof(name), "dmp_%s_%s", what[dir],
		 lat ? "latency_seconds" : "size_bytes");
	if (lat)
		snprintf(help, sizeof(help),
			 "Latency of the timed %ss, from dmp's map to their completion below.",
			 what[dir]);
	else
		snprintf(help, sizeof(help), "Size of the %s requests.",
			 what[dir]);
	head(f, name, "histogram", help);
	for (k = 0; k < s->n; k++) {
		const struct dev *d = &s->dev[k];
		const uint64_t *h = lat ? d->lat[dir] : d->size[dir];
		uint64_t cum = 0;

		if (!selected(sel, d))
			continue;
		for (i = 0; i < n; i++) {
			cum += h[i];
			if (i < n - 1)
				bound(b, sizeof(b), lat, i);
			snprintf(le, sizeof(le), ",le=\"%s\"",
				 i < n - 1 ? b : "+Inf");
			fprintf(f, "%s_bucket", name);
			labels(f, d, le);
			fprintf(f, " %llu\n", (unsigned long long)cum);
		}
		fprintf(f, "%s_sum", name);
		labels(f, d, "");
		if (lat) {
			uint64_t ns = d->st[S_READ_LAT_NS + dir];

			fprintf(f, " %llu.%09llu\n",
				(unsigned long long)(ns / 1000000000),
				(unsigned long long)(ns % 1000000000));
		} else {
			fprintf(f, " %llu\n",
				(unsigned long long)d->st[S_READ_BYTES + dir]);
		}
		fprintf(f, "%s_count", name);
		labels(f, d, "");
		fprintf(f, " %llu\n", (unsigned long long)cum);
	}
}

/*
 * The boot time in Unix seconds, as /proc/stat's btime has it (whole
 * seconds, the same for every reader until the system clock is set), or
 * else from the clocks.
 */
static long long boot_time(const struct snap *s)
{
	char line[256];
	long long bt = -1;
	FILE *f = fopen("/proc/stat", "re");

	while (f && bt < 0 && fgets(line, sizeof(line), f))
		if (sscanf(line, "btime %lld", &bt) != 1)
			bt = -1;
	if (f)
		fclose(f);
	return bt >= 0 ? bt : (long long)s->real_off;
}

/* A CLOCK_BOOTTIME ns time in Unix seconds, to the millisecond. */
static void unix_time(FILE *f, long long btime, uint64_t ns)
{
	unsigned long long ms = btime * 1000ULL + ns / 1000000;

	fprintf(f, " %llu.%03llu\n", ms / 1000, ms % 1000);
}

static void epochs(FILE *f, const struct snap *s, const struct select *sel)
{
	static const struct {
		const char *name, *type, *help;
		int stat;
	} e[] = {
		{ "dmp_resets_total", "counter", "Resets of the counters since the device got its first dmp table (all: since the module was loaded).", S_RESETS },
		{ "dmp_created_time_seconds", "gauge", "When the device got its first dmp table (all: when the module was loaded), Unix time.", S_CREATED_NS },
		{ "dmp_start_time_seconds", "gauge", "When the counters began: the last reset, else the creation, Unix time. A change means the counters started again from zero.", S_RESET_NS },
	};
	long long btime = boot_time(s);
	size_t i, k;

	for (i = 0; i < sizeof(e) / sizeof(e[0]); i++) {
		head(f, e[i].name, e[i].type, e[i].help);
		for (k = 0; k < s->n; k++) {
			const struct dev *d = &s->dev[k];

			if (!selected(sel, d))
				continue;
			fputs(e[i].name, f);
			labels(f, d, "");
			if (e[i].stat == S_RESETS)
				fprintf(f, " %llu\n",
					(unsigned long long)d->st[S_RESETS]);
			else
				unix_time(f, btime, d->st[e[i].stat]);
		}
	}
}

static void metrics(FILE *f, const struct snap *s, const struct select *sel)
{
	size_t i, k;
	int lat, dir;

	for (i = 0; i < sizeof(scalars) / sizeof(scalars[0]); i++) {
		head(f, scalars[i].name, scalars[i].type, scalars[i].help);
		for (k = 0; k < s->n; k++) {
			if (!selected(sel, &s->dev[k]))
				continue;
			fputs(scalars[i].name, f);
			labels(f, &s->dev[k], "");
			fprintf(f, " %llu\n",
				(unsigned long long)s->dev[k].st[scalars[i].stat]);
		}
	}
	head(f, "dmp_latency_timing_enabled", "gauge",
	     "1 if the device's requests are timed (dmsetup message <dev> 0 latency on), 0 if not.");
	for (k = 0; k < s->n; k++) {
		if (s->dev[k].is_all || !selected(sel, &s->dev[k]))
			continue;
		fputs("dmp_latency_timing_enabled", f);
		labels(f, &s->dev[k], "");
		fprintf(f, " %d\n", s->dev[k].latency > 0);
	}
	for (lat = 1; lat >= 0; lat--)
		for (dir = RD; dir <= WR; dir++)
			histogram(f, s, sel, lat, dir);
	epochs(f, s, sel);
}

/* To stdout, or to @path through a temporary file and rename(). */
int prom_write(const struct snap *s, const struct select *sel,
	       const char *path)
{
	char *tmp;
	FILE *f;
	int fd;

	if (!path) {
		metrics(stdout, s, sel);
		if (fflush(stdout) || ferror(stdout)) {
			note("cannot write the output: %s", strerror(errno));
			return -1;
		}
		return 0;
	}
	/* PATH.XXXXXX: not *.prom, so the collector never reads it half done */
	tmp = malloc(strlen(path) + 8);
	if (!tmp)
		die("out of memory");
	sprintf(tmp, "%s.XXXXXX", path);
	fd = mkstemp(tmp);
	if (fd < 0) {
		note("cannot write %s: %s", path, strerror(errno));
		free(tmp);
		return -1;
	}
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		goto bad;
	}
	metrics(f, s, sel);
	if (fchmod(fd, 0644) || fflush(f) || ferror(f)) {
		fclose(f);
		goto bad;
	}
	if (fclose(f) || rename(tmp, path))
		goto bad;
	free(tmp);
	return 0;
bad:
	note("cannot write %s: %s", path, strerror(errno));
	unlink(tmp);
	free(tmp);
	return -1;
}
