/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dmptrace: every request of dmp devices, from the dmp:dmp_complete trace
 * event read in a private tracefs instance.
 */
#ifndef DMPTRACE_H
#define DMPTRACE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define DMP_STAT_ROOT	"/sys/module/dmp/stat"
#define DMP_EAGAIN	(-11)	/* a bounce: see dmp_stats_bounce() */

/* A dmp device, selected with -d or met in the trace. */
struct dt_dev {
	uint32_t kdev;		/* the kernel's dev_t: major << 20 | minor */
	unsigned int major, minor;
	char id[24];		/* "major:minor" */
	char name[128];		/* device-mapper name, "" if unknown */
	char node[160];		/* for the iolog: /dev/mapper/NAME or /dev/dm-N */
	int has_files;		/* files are mapped on it */
	int used;		/* it has requests in the stored records */
};

/* Directions (what a request does), from its RWBS. */
enum { OP_READ, OP_WRITE, OP_FLUSH, OP_DISCARD, OP_OTHER, NOPS };
extern const char *const op_names[NOPS];
int op_of(const char *rwbs, uint32_t bytes);

/* One dmp_complete record, decoded. */
struct ev {
	uint64_t ts;		/* completion, trace clock "mono" ns */
	uint64_t sector;
	uint64_t lat_ns;
	uint32_t kdev;
	uint32_t bytes;
	int32_t error;
	int32_t pid;
	int cpu;
	int lost;		/* not a request: events lost before it (-1: some) */
	char rwbs[9];
	char comm[17];
};

/* What the summary and the iolog keep of each request. */
struct rec {
	uint64_t submit_ns;	/* completion time - latency */
	uint64_t lat_ns;
	uint64_t sector;
	uint32_t bytes;
	uint16_t dev;		/* index in devs */
	uint8_t op;
	uint8_t bounced;	/* came back with EAGAIN */
	uint8_t failed;		/* another error */
};

/* dmptrace.c */
extern struct dt_dev *devs;
extern size_t ndevs;
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n, size_t size);
char *xstrdup(const char *s);

/* dmptrace_dev.c */
int dmp_loaded(void);
size_t dev_select(const char *what);		/* -d DEV: dies if it is none */
size_t dev_by_kdev(uint32_t kdev);		/* adds it if new */
size_t dev_by_devt(unsigned int major, unsigned int minor);
int is_dmp(unsigned int major, unsigned int minor);
const char *blk_name(unsigned int major, unsigned int minor, char *buf,
		     size_t len);
const char *dev_label(const struct dt_dev *d);
void json_str(FILE *f, const char *s);
void text_str(FILE *f, const char *s);

/* dmptrace_log.c: the lines of the log */
void log_init(FILE *f, int json, int with_files, int name_width,
	      uint64_t mono0_ns, uint64_t realtime0_ns);
void log_header(void);
void log_lost(const struct ev *e);
void log_req(const struct ev *e, const struct dt_dev *d, const size_t *hit,
	     size_t nhit);

/* dmptrace_files.c: --file, --tree, --extents */
struct dt_file {
	char *path;
	size_t dev;		/* index in devs */
	uint64_t size;		/* st_size when mapped */
	uint64_t mapped;	/* bytes in the extents mapped */
	size_t nextents;
	size_t skipped;		/* extents without a place on the device */
};
extern struct dt_file *files;
extern size_t nfiles;
void files_add(const char *path);
void files_add_tree(const char *dir);
void files_index(void);
void files_print_extents(FILE *f, int json);
/* The files @sector + @nsect overlaps, at most @max in @out; the number. */
size_t files_find(size_t dev, uint64_t sector, uint64_t nsect, size_t *out,
		  size_t max, uint64_t *overlap);

/* dmptrace_trace.c: the tracefs instance and its per-CPU buffers */
struct trace_opts {
	const uint32_t *kdevs;	/* devices to trace, none: all */
	size_t nkdevs;
	int rw;			/* 0 both, 'r' or 'w' */
	int bounces;		/* keep requests that bounced (EAGAIN) */
	unsigned long buffer_kb; /* per CPU, 0: the kernel's default */
};
void trace_check(void);
void trace_cleanup_stale(void);
void trace_start(const struct trace_opts *o);	/* all but enabling */
void trace_enable(void);
/*
 * Records read since the last call, sorted by time: *n of them.  *gone is
 * set if @watch_fd (a pipe, or -1) lost its reader meanwhile.
 */
struct ev *trace_read(int timeout_ms, int watch_fd, int *gone, size_t *n);
void trace_stop(void);
uint64_t trace_dropped(uint64_t *per_cpu, int *ncpu);
unsigned long trace_buffer_kb(void);
const char *trace_instance_name(void);
const char *trace_filter(void);
void trace_destroy(void);

/* dmptrace_report.c: the profile (--summary) and the fio iolog */
void report_add(const struct ev *e, size_t dev, int op);
size_t report_count(void);
void report_summary(FILE *f, int json);
size_t report_iolog(const char *path, uint64_t t0);

#endif /* DMPTRACE_H */
