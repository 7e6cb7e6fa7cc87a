// SPDX-License-Identifier: GPL-2.0
/*
 * dmptrace: what is kept of every request for the end of the run, the
 * profile of --summary and the fio iolog of --iolog.
 *
 * Both work in submission order (completion time minus latency, which is
 * the time dmp mapped the request), so the requests are kept until the end:
 * 40 bytes each.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dmptrace.h"

const char *const op_names[NOPS] = { "read", "write", "flush", "discard", "other" };

static struct rec *recs;
static size_t nrecs, cap;

/*
 * From blktrace's RWBS: R read, W write (an empty one, with F for its
 * preflush, is a flush), D discard (DE secure erase), N anything else
 * (write-zeroes, zone management).
 */
int op_of(const char *rwbs, uint32_t bytes)
{
	if (strchr(rwbs, 'R'))
		return OP_READ;
	if (strchr(rwbs, 'D'))
		return OP_DISCARD;
	if (strchr(rwbs, 'W'))
		return bytes ? OP_WRITE : OP_FLUSH;
	if (rwbs[0] == 'F' && !bytes)
		return OP_FLUSH;
	return OP_OTHER;
}

void report_add(const struct ev *e, size_t dev, int op)
{
	struct rec *r;

	if (nrecs == cap) {
		cap = cap ? 2 * cap : 65536;
		recs = xrealloc(recs, cap, sizeof(*recs));
	}
	r = &recs[nrecs++];
	r->submit_ns = e->ts > e->lat_ns ? e->ts - e->lat_ns : 0;
	r->lat_ns = e->lat_ns;
	r->sector = e->sector;
	r->bytes = e->bytes;
	r->dev = dev;
	r->op = op;
	r->bounced = e->error == DMP_EAGAIN;
	r->failed = e->error && !r->bounced;
	devs[dev].used = 1;
}

size_t report_count(void)
{
	return nrecs;
}

static int by_submit(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;

	if (x->submit_ns != y->submit_ns)
		return x->submit_ns < y->submit_ns ? -1 : 1;
	return x < y ? -1 : x > y;	/* as completed */
}

static void sort_recs(void)
{
	static int sorted;

	if (!sorted && nrecs)
		qsort(recs, nrecs, sizeof(*recs), by_submit);
	sorted = 1;
}

/* --- the profile */

struct vec {
	uint64_t *v;
	size_t n, cap;
};

static void vec_add(struct vec *x, uint64_t v)
{
	if (x->n == x->cap) {
		x->cap = x->cap ? 2 * x->cap : 64;
		x->v = xrealloc(x->v, x->cap, sizeof(*x->v));
	}
	x->v[x->n++] = v;
}

struct opstat {
	uint64_t reqs, bytes, seq, errors, lat_sum;
	uint64_t next;		/* where a sequential request would start */
	int any;
	struct vec size, lat;
};

struct group {
	const char *kind;	/* "device", "file", "other" */
	size_t dev;
	const char *file;
	struct opstat op[NOPS];
	uint64_t bounced;
};

static void count(struct group *g, const struct rec *r, uint64_t bytes)
{
	struct opstat *o = &g->op[r->op];

	if (r->bounced) {
		g->bounced++;
		return;
	}
	o->reqs++;
	o->bytes += bytes;
	o->errors += r->failed;
	if (o->any && r->sector == o->next)
		o->seq++;
	o->any = 1;
	o->next = r->sector + r->bytes / 512;
	o->lat_sum += r->lat_ns;
	vec_add(&o->size, r->bytes);
	vec_add(&o->lat, r->lat_ns);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest value with at least pct% at or below it. */
static uint64_t pct(const struct vec *x, unsigned int p)
{
	size_t rank = (x->n * p + 99) / 100;

	return x->v[rank ? rank - 1 : 0];
}

static char *fmt_size(char *buf, size_t len, uint64_t b)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = b;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (v == (uint64_t)v)
		snprintf(buf, len, "%llu%s", (unsigned long long)v, unit[u]);
	else
		snprintf(buf, len, "%.*f%s", v < 10 ? 2 : 1, v, unit[u]);
	return buf;
}

static char *fmt_lat(char *buf, size_t len, uint64_t ns)
{
	double us = ns / 1000.0;

	if (us < 999.95)
		snprintf(buf, len, "%.1fus", us);
	else if (us < 999950)
		snprintf(buf, len, "%.2fms", us / 1000);
	else
		snprintf(buf, len, "%.2fs", us / 1e6);
	return buf;
}

static char *esc(const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		die("out of memory");
	text_str(f, s);
	fclose(f);
	return buf;
}

static char *label(const struct group *g)
{
	const struct dt_dev *d = &devs[g->dev];
	char *name = esc(dev_label(d)), *s;
	int r;

	if (!strcmp(g->kind, "file")) {
		free(name);
		return esc(g->file);
	}
	if (!strcmp(g->kind, "other"))
		r = asprintf(&s, "other(%s)", name);
	else if (d->name[0])
		r = asprintf(&s, "%s(%s)", name, d->id);
	else
		r = asprintf(&s, "%s", name);
	free(name);
	if (r < 0)
		die("out of memory");
	return s;
}

static void print_text(FILE *f, struct group *g, size_t ng)
{
	static const unsigned int ps[] = { 50, 90, 99 };
	char b[8][32];
	size_t i, w = 11;
	char **labels = xcalloc(ng, sizeof(*labels));
	int k;

	for (i = 0; i < ng; i++) {
		labels[i] = label(&g[i]);
		if (strlen(labels[i]) > w)
			w = strlen(labels[i]);
	}
	fprintf(f, "%-*s %-7s %8s %10s %5s %7s %7s %7s %7s %8s %8s %8s %8s %8s %4s\n",
		(int)w, "DEVICE/FILE", "OP", "REQS", "BYTES", "SEQ%", "SZ_P50",
		"SZ_P90", "SZ_P99", "SZ_MAX", "LAT_AVG", "LAT_P50", "LAT_P90",
		"LAT_P99", "LAT_MAX", "ERRS");
	for (i = 0; i < ng; i++) {
		uint64_t any = 0;

		for (k = 0; k < NOPS; k++)
			any += g[i].op[k].reqs;
		for (k = 0; k < NOPS; k++) {
			struct opstat *o = &g[i].op[k];
			int j;

			/* the operations it has; a group with none: "read 0" */
			if (!o->reqs && (any || k != OP_READ))
				continue;
			fprintf(f, "%-*s %-7s %8llu %10s", (int)w, labels[i],
				op_names[k], (unsigned long long)o->reqs,
				fmt_size(b[0], sizeof(b[0]), o->bytes));
			if (o->reqs && (k == OP_READ || k == OP_WRITE))
				fprintf(f, " %5.1f", 100.0 * o->seq / o->reqs);
			else
				fprintf(f, " %5s", "-");
			if (!o->reqs || k == OP_FLUSH) {
				if (o->reqs) {	/* no size: only the latencies */
					fprintf(f, " %7s %7s %7s %7s %8s", "-", "-", "-", "-",
						fmt_lat(b[4], sizeof(b[4]), o->lat_sum / o->reqs));
					for (j = 0; j < 3; j++)
						fprintf(f, " %8s", fmt_lat(b[j], sizeof(b[j]),
									   pct(&o->lat, ps[j])));
					fprintf(f, " %8s %4llu\n",
						fmt_lat(b[5], sizeof(b[5]), pct(&o->lat, 100)),
						(unsigned long long)o->errors);
					continue;
				}
				fprintf(f, " %7s %7s %7s %7s %8s %8s %8s %8s %8s %4llu\n",
					"-", "-", "-", "-", "-", "-", "-", "-", "-",
					(unsigned long long)o->errors);
				continue;
			}
			for (j = 0; j < 3; j++)
				fprintf(f, " %7s", fmt_size(b[j], sizeof(b[j]),
							    pct(&o->size, ps[j])));
			fprintf(f, " %7s", fmt_size(b[3], sizeof(b[3]), pct(&o->size, 100)));
			fprintf(f, " %8s", fmt_lat(b[4], sizeof(b[4]), o->lat_sum / o->reqs));
			for (j = 0; j < 3; j++)
				fprintf(f, " %8s", fmt_lat(b[j], sizeof(b[j]),
							   pct(&o->lat, ps[j])));
			fprintf(f, " %8s %4llu\n", fmt_lat(b[5], sizeof(b[5]), pct(&o->lat, 100)),
				(unsigned long long)o->errors);
		}
		free(labels[i]);
	}
	free(labels);
}

static void json_pcts(FILE *f, const char *key, const struct vec *x, int mean,
		      uint64_t sum)
{
	fprintf(f, ",\"%s\":", key);
	if (!x->n) {
		fputs("null", f);
		return;
	}
	fprintf(f, "{\"p50\":%llu,\"p90\":%llu,\"p99\":%llu,\"max\":%llu",
		(unsigned long long)pct(x, 50), (unsigned long long)pct(x, 90),
		(unsigned long long)pct(x, 99), (unsigned long long)pct(x, 100));
	if (mean)
		fprintf(f, ",\"mean\":%llu", (unsigned long long)(sum / x->n));
	putc('}', f);
}

static void print_json(FILE *f, struct group *g, size_t ng)
{
	size_t i;
	int k;

	fputs("{\"profile\":[", f);
	for (i = 0; i < ng; i++) {
		const struct dt_dev *d = &devs[g[i].dev];

		fprintf(f, "%s{\"group\":\"%s\",\"device\":", i ? "," : "", g[i].kind);
		json_str(f, dev_label(d));
		fprintf(f, ",\"devt\":\"%s\",\"file\":", d->id);
		if (g[i].file)
			json_str(f, g[i].file);
		else
			fputs("null", f);
		fprintf(f, ",\"bounced\":%llu", (unsigned long long)g[i].bounced);
		for (k = 0; k < NOPS; k++) {
			struct opstat *o = &g[i].op[k];

			fprintf(f, ",\"%s\":{\"requests\":%llu,\"bytes\":%llu,\"errors\":%llu,\"sequential\":",
				op_names[k], (unsigned long long)o->reqs,
				(unsigned long long)o->bytes,
				(unsigned long long)o->errors);
			if (k == OP_READ || k == OP_WRITE)
				fprintf(f, "%llu", (unsigned long long)o->seq);
			else
				fputs("null", f);
			fputs(",\"seq_pct\":", f);
			if (o->reqs && (k == OP_READ || k == OP_WRITE))
				fprintf(f, "%.3f", 100.0 * o->seq / o->reqs);
			else
				fputs("null", f);
			json_pcts(f, "size", &o->size, 0, 0);
			json_pcts(f, "lat_ns", &o->lat, 1, o->lat_sum);
			putc('}', f);
		}
		putc('}', f);
	}
	fputs("]}\n", f);
}

/*
 * Per device that has requests, then per file, then per device with files
 * what is in none of them ("other").  A request counts for every file it
 * overlaps, with the bytes inside that file; it is sequential for a group
 * when it starts where the group's previous request of its direction ended.
 */
void report_summary(FILE *f, int json)
{
	size_t ng = ndevs + nfiles + ndevs, i, k, n;
	struct group *g = xcalloc(ng ? ng : 1, sizeof(*g));
	size_t hit[64];
	uint64_t overlap[64];
	struct group *shown;
	size_t nshown = 0;

	sort_recs();
	for (i = 0; i < ndevs; i++) {
		g[i].kind = "device";
		g[i].dev = i;
		g[ndevs + nfiles + i].kind = "other";
		g[ndevs + nfiles + i].dev = i;
	}
	for (i = 0; i < nfiles; i++) {
		g[ndevs + i].kind = "file";
		g[ndevs + i].dev = files[i].dev;
		g[ndevs + i].file = files[i].path;
	}
	for (i = 0; i < nrecs; i++) {
		const struct rec *r = &recs[i];

		count(&g[r->dev], r, r->bytes);
		if (!devs[r->dev].has_files)
			continue;
		n = files_find(r->dev, r->sector, r->bytes / 512, hit, 64, overlap);
		for (k = 0; k < n; k++)
			count(&g[ndevs + hit[k]], r,
			      r->op == OP_FLUSH ? 0 : overlap[k]);
		if (!n)
			count(&g[ndevs + nfiles + r->dev], r, r->bytes);
	}
	for (i = 0; i < ng; i++)
		for (k = 0; k < NOPS; k++) {
			struct opstat *o = &g[i].op[k];

			if (!o->size.n)
				continue;
			qsort(o->size.v, o->size.n, sizeof(uint64_t), cmp_u64);
			qsort(o->lat.v, o->lat.n, sizeof(uint64_t), cmp_u64);
		}
	/* devices with requests or files, every file, "other" of devices with files */
	shown = xcalloc(ng ? ng : 1, sizeof(*shown));
	for (i = 0; i < ng; i++) {
		const struct dt_dev *d = &devs[g[i].dev];

		if (i < ndevs ? d->used || d->has_files :
		    i < ndevs + nfiles ? 1 : d->has_files)
			shown[nshown++] = g[i];
	}
	if (json)
		print_json(f, shown, nshown);
	else
		print_text(f, shown, nshown);
	for (i = 0; i < ng; i++)
		for (k = 0; k < NOPS; k++) {
			free(g[i].op[k].size.v);
			free(g[i].op[k].lat.v);
		}
	free(shown);
	free(g);
}

/* --- fio's iolog, version 3 */

/*
 * "fio version 3 iolog", then "TIME FILE add|open|close" and
 * "TIME FILE read|write|trim|sync OFFSET LENGTH", TIME in microseconds
 * from the start of the run (fio 3.31 and later; see fio's HOWTO, "Trace
 * file format v3").  FILE is the device's node; fio's replay_redirect
 * replaces it.  Requests that bounced are left out (their retry has a
 * record of its own); so are those fio cannot issue (RWBS N: write-zeroes,
 * zone management): their number is returned.
 */
size_t report_iolog(const char *path, uint64_t t0)
{
	static const char *const act[NOPS] = { "read", "write", "sync", "trim", NULL };
	FILE *f = fopen(path, "we");
	uint64_t last = 0;
	size_t i, skipped = 0;

	if (!f)
		die("cannot write %s: %s", path, strerror(errno));
	sort_recs();
	fputs("fio version 3 iolog\n", f);
	for (i = 0; i < ndevs; i++)
		if (devs[i].used)
			fprintf(f, "0 %s add\n", devs[i].node);
	for (i = 0; i < ndevs; i++)
		if (devs[i].used)
			fprintf(f, "0 %s open\n", devs[i].node);
	for (i = 0; i < nrecs; i++) {
		const struct rec *r = &recs[i];
		uint64_t us = r->submit_ns > t0 ? (r->submit_ns - t0) / 1000 : 0;

		if (r->bounced)
			continue;
		if (!act[r->op]) {
			skipped++;
			continue;
		}
		last = us;
		if (r->op == OP_FLUSH)
			fprintf(f, "%llu %s sync 0 0\n", (unsigned long long)us,
				devs[r->dev].node);
		else
			fprintf(f, "%llu %s %s %llu %u\n", (unsigned long long)us,
				devs[r->dev].node, act[r->op],
				(unsigned long long)r->sector * 512, r->bytes);
	}
	for (i = 0; i < ndevs; i++)
		if (devs[i].used)
			fprintf(f, "%llu %s close\n", (unsigned long long)last,
				devs[i].node);
	if (fclose(f))
		die("cannot write %s: %s", path, strerror(errno));
	return skipped;
}
