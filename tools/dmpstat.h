/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dmpstat: statistics of dmp devices from /sys/module/dmp/stat.
 */
#ifndef DMPSTAT_H
#define DMPSTAT_H

#include <stddef.h>
#include <stdint.h>

#define DMP_STAT_ROOT	"/sys/module/dmp/stat"

/*
 * The fields of a "stat" file, in README order (later fields are ignored).
 * The last three are a node's epoch: they say since when the counters count
 * and are never subtracted.
 */
enum {
	S_READ_REQS,
	S_WRITE_REQS,
	S_READ_BYTES,
	S_WRITE_BYTES,
	S_FLUSH_REQS,
	S_DISCARD_REQS,
	S_DISCARD_BYTES,
	S_READ_ERRORS,
	S_WRITE_ERRORS,
	S_READ_SEQ,
	S_WRITE_SEQ,
	S_READ_LAT_NS,
	S_WRITE_LAT_NS,
	S_IN_FLIGHT,		/* a gauge, the others only grow */
	S_BOUNCED,
	S_ZONE_OPEN,
	S_ZONE_CLOSE,
	S_ZONE_FINISH,
	S_ZONE_RESET,
	S_RESETS,		/* resets since the node was created */
	S_CREATED_NS,		/* CLOCK_BOOTTIME ns: the node was created */
	S_RESET_NS,		/* CLOCK_BOOTTIME ns: the current counts began */
	NSTAT
};

/* The fields that are counters (everything before in_flight). */
#define NCOUNTERS	S_IN_FLIGHT

extern const char *const stat_names[NSTAT];

/*
 * Latency buckets: 0 is < 1 us, i = 1..20 is [2^(i-1), 2^i) us, 21 is
 * >= 2^20 us.  Size buckets: 0 is < 1 KiB, i = 1..12 is [512 << i,
 * 1024 << i) bytes, 13 is >= 4 MiB.
 */
#define LAT_BUCKETS	22
#define SIZE_BUCKETS	14

enum { RD, WR };

/* One stat directory (a device or "all") at one moment. */
struct dev {
	char id[32];		/* "major:minor", or "all" */
	char name[256];		/* device-mapper name ("" if none), or "all" */
	int is_all;
	int latency;		/* timing on (1), off (0), unknown (-1) */
	double t;		/* CLOCK_BOOTTIME s, just before "stat" was read */
	uint64_t st[NSTAT];	/* histograms and "stat" are of one epoch */
	uint64_t lat[2][LAT_BUCKETS];
	uint64_t size[2][SIZE_BUCKETS];
};

/* Every device (by major:minor), then "all". */
struct snap {
	struct dev *dev;
	size_t n;
	double t;		/* CLOCK_BOOTTIME, seconds */
	double real_off;	/* CLOCK_REALTIME - CLOCK_BOOTTIME, seconds */
	long long btime;	/* /proc/stat's btime (0 if unknown) */
};

/* Device selection (-d): names or major:minor; none selects everything. */
struct select {
	const char **what;
	size_t n;
};

/* read.c */
enum { SNAP_OK, SNAP_NO_MODULE };
int snap_read(const char *root, struct snap *s);
void snap_free(struct snap *s);
const struct dev *snap_find(const struct snap *s, const char *id);
int selected(const struct select *sel, const struct dev *d);
const char *dev_label(const struct dev *d);
double now_boottime(void);
int same_epoch(const struct dev *a, const struct dev *b);
void keep_monotonic(struct snap *now, const struct snap *then);
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* prom.c */
int prom_write(const struct snap *s, const struct select *sel, const char *path);

#endif /* DMPSTAT_H */
