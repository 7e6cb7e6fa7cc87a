// SPDX-License-Identifier: GPL-2.0
/*
 * dmptrace: the tracing side.  A private tracefs instance
 * ("dmptrace-<pid>-<start time>") with only dmp:dmp_complete enabled and
 * filtered in the kernel, its clock set to "mono" (the clock of dmp's
 * lat_ns), read from its per-CPU raw ring buffers (trace_pipe_raw) with
 * libtracefs and decoded with libtraceevent's kbuffer and event formats.
 *
 * The instance goes away on every exit path: on exit() (errors included)
 * and on SIGINT, SIGTERM, SIGHUP and SIGPIPE by dmptrace itself; when
 * dmptrace is killed outright by a small child process that waits for it
 * (the "reaper"); and if both are killed, by the next dmptrace, which
 * removes the instances whose process is gone.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event-parse.h>
#include <kbuffer.h>
#include <tracefs.h>

#include "dmptrace.h"

#define INSTANCE_PREFIX	"dmptrace-"

struct cpu_reader {
	int cpu;
	int fd;
	struct tracefs_cpu *tcpu;
	void *page;
	int nobuf;		/* the last read found no buffer: CPU offline */
};

static char *tracing_dir;
static struct tep_handle *tep;
static struct tep_event *event;
static struct tracefs_instance *inst;
static char inst_name[64];
static char inst_path[PATH_MAX];
static char *filter;
static struct cpu_reader *cpus;
static int ncpus;
static struct kbuffer *kbuf;
static int subbuf_size;
static pid_t reaper = -1;
static int reaper_fd = -1;
static struct ev *batch, *merged;	/* as read per CPU; in time order */
static size_t nbatch, batch_cap, merged_cap;

static struct {
	struct tep_format_field *dev, *sector, *bytes, *rwbs, *lat_ns, *error,
		*pid, *comm;
} fld;

/* --- where tracefs is, and whether dmp's events are in it */

/* The mount point of tracefs, or debugfs/tracing; NULL if neither. */
static char *find_tracefs(void)
{
	char dev[256], dir[PATH_MAX], type[64], *debugfs = NULL, *found = NULL;
	FILE *f = fopen("/proc/self/mounts", "re");
	struct stat st;

	if (!f)
		die("cannot read /proc/self/mounts: %s", strerror(errno));
	while (fscanf(f, "%255s %4095s %63s %*[^\n]", dev, dir, type) == 3) {
		if (!strcmp(type, "tracefs")) {
			found = xstrdup(dir);
			break;
		}
		if (!strcmp(type, "debugfs") && !debugfs)
			debugfs = xstrdup(dir);
	}
	fclose(f);
	if (!found && debugfs) {
		/* debugfs/tracing is an automount of tracefs */
		snprintf(dir, sizeof(dir), "%s/tracing", debugfs);
		if (!stat(dir, &st) || errno == EACCES)
			found = xstrdup(dir);
	}
	free(debugfs);
	return found;
}

void trace_check(void)
{
	char path[PATH_MAX];
	struct stat st;

	tracing_dir = find_tracefs();
	if (!tracing_dir)
		die("tracefs is not mounted (mount -t tracefs tracefs /sys/kernel/tracing)");
	if (access(tracing_dir, R_OK | W_OK | X_OK))
		die("cannot use tracefs at %s: %s (dmptrace needs root)",
		    tracing_dir, strerror(errno));
	/* libtracefs must use this one, and never mount anything itself */
	if (tracefs_set_tracing_dir(tracing_dir))
		die("cannot use tracefs at %s", tracing_dir);
	snprintf(path, sizeof(path), "%s/events/dmp/dmp_complete/format",
		 tracing_dir);
	if (stat(path, &st)) {
		if (!dmp_loaded())
			die("dmp module not loaded (no " DMP_STAT_ROOT ")");
		die("no dmp trace events in %s/events (a dmp module without tracepoints?)",
		    tracing_dir);
	}
	snprintf(path, sizeof(path), "%s/instances", tracing_dir);
	if (access(path, W_OK))
		die("cannot create tracefs instances in %s: %s", path,
		    strerror(errno));
}

/* --- instances: ours, and those left by dead dmptrace processes */

/* Field 22 of /proc/PID/stat (start time in clock ticks); 0 if none. */
static unsigned long long proc_start(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long start = 0;
	ssize_t n;
	int fd, i;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');		/* after comm, which may hold anything */
	if (!p)
		return 0;
	for (i = 2; i < 22 && p; i++)
		p = strchr(p + 1, ' ');
	if (p)
		start = strtoull(p + 1, NULL, 10);
	return start;
}

void trace_cleanup_stale(void)
{
	/* a basic regular expression (libtracefs compiles it without REG_EXTENDED) */
	char **list = tracefs_instances("^" INSTANCE_PREFIX "[0-9][0-9]*-[0-9][0-9]*$");
	int i;

	for (i = 0; list && list[i]; i++) {
		struct tracefs_instance *old;
		unsigned long long start;
		int pid;

		if (sscanf(list[i], INSTANCE_PREFIX "%d-%llu", &pid, &start) != 2 ||
		    proc_start(pid) == start)
			continue;	/* its dmptrace is running */
		old = tracefs_instance_alloc(tracing_dir, list[i]);
		if (!old)
			continue;
		if (tracefs_instance_destroy(old) == 0)
			note("removed the tracefs instance %s left by dmptrace process %d, which is gone",
			     list[i], pid);
		else if (errno != ENOENT)
			note("cannot remove the stale tracefs instance %s: %s",
			     list[i], strerror(errno));
		tracefs_instance_free(old);
	}
	tracefs_list_free(list);
}

/*
 * The reaper: a child that does nothing but wait for dmptrace to go away
 * (its end of a pipe reaches EOF), and then removes the instance if it is
 * still there (dmptrace was killed).  It holds no file of dmptrace's.
 */
static void start_reaper(void)
{
	int p[2], i;

	if (pipe2(p, O_CLOEXEC))
		die("cannot create a pipe: %s", strerror(errno));
	fflush(NULL);
	reaper = fork();
	if (reaper < 0)
		die("cannot fork: %s", strerror(errno));
	if (reaper == 0) {
		char c;

		signal(SIGINT, SIG_IGN);
		signal(SIGTERM, SIG_IGN);
		signal(SIGHUP, SIG_IGN);
		signal(SIGQUIT, SIG_IGN);
		signal(SIGPIPE, SIG_IGN);
		prctl(PR_SET_NAME, "dmptrace-reaper");
		if (p[0] != 0) {
			dup2(p[0], 0);
			close(p[0]);
		}
		close_range(1, ~0U, 0);
		while (read(0, &c, 1) < 0 && errno == EINTR)
			;
		/* the instance's files close as dmptrace exits: EBUSY until then */
		for (i = 0; i < 500; i++) {
			if (!rmdir(inst_path) || errno != EBUSY)
				break;
			usleep(10000);
		}
		_exit(0);
	}
	close(p[0]);
	reaper_fd = p[1];
}

static void stop_reaper(void)
{
	if (reaper_fd >= 0)
		close(reaper_fd);
	reaper_fd = -1;
	if (reaper > 0)
		while (waitpid(reaper, NULL, 0) < 0 && errno == EINTR)
			;
	reaper = -1;
}

void trace_destroy(void)
{
	int i;

	for (i = 0; i < ncpus; i++) {
		if (cpus[i].tcpu)
			tracefs_cpu_close(cpus[i].tcpu);	/* closes the fd */
		else if (cpus[i].fd >= 0)
			close(cpus[i].fd);
		free(cpus[i].page);
	}
	free(cpus);
	cpus = NULL;
	ncpus = 0;
	if (inst) {
		tracefs_event_disable(inst, "dmp", "dmp_complete");
		if (tracefs_instance_destroy(inst))
			note("cannot remove the tracefs instance %s: %s", inst_name,
			     strerror(errno));
		tracefs_instance_free(inst);
		inst = NULL;
	}
	stop_reaper();
	if (kbuf)
		kbuffer_free(kbuf);
	kbuf = NULL;
	if (tep)
		tep_free(tep);
	tep = NULL;
	free(batch);
	batch = NULL;
	nbatch = batch_cap = 0;
	free(merged);
	merged = NULL;
	merged_cap = 0;
}

const char *trace_instance_name(void)
{
	return inst_name;
}

const char *trace_filter(void)
{
	return filter ? filter : "";
}

/* --- the event and its filter */

static struct tep_format_field *find_field(const char *name, int min, int max)
{
	struct tep_format_field *f = tep_find_field(event, name);

	if (!f || f->size < min || f->size > max)
		die("dmp_complete has no field \"%s\" as dmptrace knows it (a dmp module newer or older than dmptrace?)",
		    name);
	return f;
}

/*
 * The ring buffer's page header and dmp_complete's format, and nothing
 * else: tracefs_local_events_system() would also parse /proc/kallsyms and
 * every printk format, which takes most of a second in the test guest.
 */
static void load_event(void)
{
	char *buf;
	int len;

	tep = tep_alloc();
	if (!tep)
		die("out of memory");
	tep_set_long_size(tep, sizeof(long));
	tep_set_page_size(tep, getpagesize());
	buf = tracefs_instance_file_read(NULL, "events/header_page", &len);
	if (!buf || tep_parse_header_page(tep, buf, len, sizeof(long)))
		die("cannot read %s/events/header_page", tracing_dir);
	free(buf);
	buf = tracefs_event_file_read(NULL, "dmp", "dmp_complete", "format", &len);
	if (!buf || tep_parse_event(tep, buf, len, "dmp"))
		die("cannot read the format of dmp:dmp_complete in %s/events/dmp",
		    tracing_dir);
	free(buf);
	event = tep_find_event_by_name(tep, "dmp", "dmp_complete");
	if (!event)
		die("no dmp:dmp_complete event in %s/events/dmp", tracing_dir);
	fld.dev = find_field("dev", 4, 4);
	fld.sector = find_field("sector", 8, 8);
	fld.bytes = find_field("bytes", 4, 4);
	fld.rwbs = find_field("rwbs", 1, 8);
	fld.lat_ns = find_field("lat_ns", 8, 8);
	fld.error = find_field("error", 4, 4);
	fld.pid = find_field("pid", 4, 4);
	fld.comm = find_field("comm", 1, 16);
}

static void add(enum tracefs_filter type, const char *name,
		enum tracefs_compare cmp, const char *val)
{
	if (tracefs_filter_string_append(event, &filter, type, name, cmp, val))
		die("cannot build the event filter (at %s): %s",
		    name ? name : "an operator", strerror(errno));
}

/* ( dev == A || dev == B ) && rwbs ~ "*W*" && error != -11 */
static void build_filter(const struct trace_opts *o)
{
	char num[32];
	int terms = 0;
	size_t i;

	if (o->nkdevs) {
		if (o->nkdevs > 1)
			add(TRACEFS_FILTER_OPEN_PAREN, NULL, 0, NULL);
		for (i = 0; i < o->nkdevs; i++) {
			if (i)
				add(TRACEFS_FILTER_OR, NULL, 0, NULL);
			snprintf(num, sizeof(num), "%u", o->kdevs[i]);
			add(TRACEFS_FILTER_COMPARE, "dev", TRACEFS_COMPARE_EQ, num);
		}
		if (o->nkdevs > 1)
			add(TRACEFS_FILTER_CLOSE_PAREN, NULL, 0, NULL);
		terms++;
	}
	if (o->rw) {
		if (terms++)
			add(TRACEFS_FILTER_AND, NULL, 0, NULL);
		add(TRACEFS_FILTER_COMPARE, "rwbs", TRACEFS_COMPARE_RE,
		    o->rw == 'r' ? "\"*R*\"" : "\"*W*\"");
	}
	if (!o->bounces) {
		if (terms++)
			add(TRACEFS_FILTER_AND, NULL, 0, NULL);
		snprintf(num, sizeof(num), "%d", DMP_EAGAIN);
		add(TRACEFS_FILTER_COMPARE, "error", TRACEFS_COMPARE_NE, num);
	}
}

/* --- start */

static void open_cpus(void)
{
	long conf = sysconf(_SC_NPROCESSORS_CONF);
	char file[64];
	int cpu;

	if (conf < 1)
		conf = 1;
	cpus = xcalloc(conf, sizeof(*cpus));
	for (cpu = 0; cpu < conf; cpu++) {
		struct cpu_reader *c = &cpus[ncpus];

		snprintf(file, sizeof(file), "per_cpu/cpu%d/trace_pipe_raw", cpu);
		if (!tracefs_file_exists(inst, file))
			continue;
		c->cpu = cpu;
		c->fd = tracefs_instance_file_open(inst, file,
						   O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (c->fd < 0)
			die("cannot open %s/%s: %s", inst_path, file, strerror(errno));
		ncpus++;
		c->tcpu = tracefs_cpu_alloc_fd(c->fd, subbuf_size, true);
		if (!c->tcpu)
			die("cannot read %s/%s: %s", inst_path, file, strerror(errno));
		c->page = xcalloc(1, subbuf_size);
	}
	if (!ncpus)
		die("no per-CPU buffers in %s/per_cpu", inst_path);
}

void trace_start(const struct trace_opts *o)
{
	char *err;

	load_event();
	build_filter(o);
	subbuf_size = tep_get_sub_buffer_size(tep);
	if (subbuf_size <= 0)
		subbuf_size = getpagesize();
	kbuf = kbuffer_alloc(KBUFFER_LSIZE_SAME_AS_HOST, KBUFFER_ENDIAN_SAME_AS_HOST);
	if (!kbuf)
		die("out of memory");

	snprintf(inst_name, sizeof(inst_name), INSTANCE_PREFIX "%d-%llu",
		 (int)getpid(), proc_start(getpid()));
	snprintf(inst_path, sizeof(inst_path), "%s/instances/%s", tracing_dir,
		 inst_name);
	start_reaper();
	inst = tracefs_instance_create(inst_name);
	if (!inst)
		die("cannot create the tracefs instance %s: %s", inst_path,
		    strerror(errno));
	if (!tracefs_instance_is_new(inst)) {
		tracefs_instance_free(inst);	/* not ours: leave it */
		inst = NULL;
		die("the tracefs instance %s exists already", inst_path);
	}
	if (tracefs_instance_file_write(inst, "trace_clock", "mono") < 0)
		die("cannot set the clock of %s to mono: %s", inst_path,
		    strerror(errno));
	if (o->buffer_kb && tracefs_instance_set_buffer_size(inst, o->buffer_kb, -1))
		die("cannot set the buffer size of %s to %lu KiB per CPU: %s",
		    inst_path, o->buffer_kb, strerror(errno));
	if (filter) {
		tracefs_error_clear(inst);
		/*
		 * Written as it is: tracefs_event_filter_apply() first checks
		 * the filter with tracefs_filter_string_verify(), which (in
		 * libtracefs 1.6) takes no negative number.
		 */
		if (tracefs_event_file_write(inst, "dmp", "dmp_complete", "filter",
					     filter) < 0) {
			err = tracefs_error_last(inst);
			die("the kernel refused the filter '%s'%s%s", filter,
			    err ? ": " : "", err ? err : "");
		}
	}
	open_cpus();
}

void trace_enable(void)
{
	if (tracefs_event_enable(inst, "dmp", "dmp_complete"))
		die("cannot enable dmp:dmp_complete in %s: %s", inst_path,
		    strerror(errno));
}

void trace_stop(void)
{
	if (inst && tracefs_event_disable(inst, "dmp", "dmp_complete"))
		note("cannot disable dmp:dmp_complete in %s: %s", inst_path,
		     strerror(errno));
}

unsigned long trace_buffer_kb(void)
{
	ssize_t kb = inst && ncpus ?
		tracefs_instance_get_buffer_size(inst, cpus[0].cpu) : 0;

	return kb > 0 ? kb : 0;
}

/* --- reading */

static struct ev *batch_add(void)
{
	if (nbatch == batch_cap) {
		batch_cap = batch_cap ? 2 * batch_cap : 4096;
		batch = xrealloc(batch, batch_cap, sizeof(*batch));
	}
	memset(&batch[nbatch], 0, sizeof(*batch));
	return &batch[nbatch++];
}

/* A field of a record of this machine's kernel: host order, 4 or 8 bytes. */
static inline uint64_t num(const struct tep_format_field *f, const void *data)
{
	const char *p = (const char *)data + f->offset;

	uint64_t v8;
	uint32_t v4;

	if (f->size == 8) {
		memcpy(&v8, p, 8);
		return v8;
	}
	memcpy(&v4, p, 4);
	return v4;
}

static void str(struct tep_format_field *f, void *data, char *to, size_t len)
{
	size_t n = (size_t)f->size < len - 1 ? (size_t)f->size : len - 1;

	memcpy(to, (char *)data + f->offset, n);
	to[n] = '\0';
}

/* One sub-buffer (page) of a CPU's ring buffer into the batch. */
static void decode(struct cpu_reader *c)
{
	struct tep_record r = { .cpu = c->cpu };
	unsigned long long ts;
	int missed;
	void *data;

	if (kbuffer_load_subbuffer(kbuf, c->page))
		return;
	missed = kbuffer_missed_events(kbuf);
	if (missed) {
		struct ev *e = batch_add();

		e->ts = kbuffer_subbuf_timestamp(kbuf, c->page);
		e->cpu = c->cpu;
		e->lost = missed < 0 ? -1 : missed;
	}
	while ((data = kbuffer_read_event(kbuf, &ts))) {
		struct ev *e;

		r.ts = ts;
		r.data = data;
		r.size = kbuffer_event_size(kbuf);
		kbuffer_next_event(kbuf, NULL);
		if (tep_data_type(tep, &r) != event->id)
			continue;
		e = batch_add();
		e->ts = ts;
		e->cpu = c->cpu;
		e->kdev = num(fld.dev, data);
		e->sector = num(fld.sector, data);
		e->bytes = num(fld.bytes, data);
		e->lat_ns = num(fld.lat_ns, data);
		e->error = (int32_t)num(fld.error, data);
		e->pid = (int32_t)num(fld.pid, data);
		str(fld.rwbs, data, e->rwbs, sizeof(e->rwbs));
		str(fld.comm, data, e->comm, sizeof(e->comm));
	}
}

/*
 * Each CPU's records are in time order already (a ring buffer per CPU):
 * merge those runs, batch[run[i]..run[i + 1]), into merged.
 */
static void merge(const size_t *run, int nruns)
{
	size_t *at = xcalloc(nruns, sizeof(*at)), k;
	int i;

	if (merged_cap < nbatch) {
		merged_cap = batch_cap;
		merged = xrealloc(merged, merged_cap, sizeof(*merged));
	}
	for (i = 0; i < nruns; i++)
		at[i] = run[i];
	for (k = 0; k < nbatch; k++) {
		int best = -1;

		for (i = 0; i < nruns; i++)
			if (at[i] < run[i + 1] &&
			    (best < 0 || batch[at[i]].ts < batch[at[best]].ts))
				best = i;
		merged[k] = batch[at[best]++];
	}
	free(at);
}

/*
 * Wait up to @timeout_ms for data (the kernel wakes a reader when a CPU's
 * buffer is half full: buffer_percent), then read every CPU's buffer to
 * the end.  The records are merged in time order; they stay valid until
 * the next call.
 */
struct ev *trace_read(int timeout_ms, int watch_fd, int *gone, size_t *n)
{
	struct pollfd *pfd = xcalloc(ncpus + 1, sizeof(*pfd));
	int i, ready = 0, got = 0;
	size_t *run;

	nbatch = 0;
	/*
	 * A CPU that is offline has no ring buffer: its poll() always says
	 * "ready" (an error) and a read fails with ENODEV.  It is left out of
	 * poll() and tried again at every call, so that a CPU brought online
	 * (which gets a buffer then) is read from then on.
	 */
	for (i = 0; i < ncpus; i++) {
		pfd[i].fd = cpus[i].nobuf ? -1 : cpus[i].fd;
		pfd[i].events = POLLIN;
	}
	/* a pipe whose reader went away reports POLLERR */
	pfd[ncpus].fd = watch_fd;
	if (timeout_ms > 0)
		ready = poll(pfd, ncpus + 1, timeout_ms);
	if (gone)
		*gone = ready > 0 && (pfd[ncpus].revents & (POLLERR | POLLHUP));
	if (ready > 0 && pfd[ncpus].revents)
		ready--;
	free(pfd);
	run = xcalloc(ncpus + 1, sizeof(*run));
	for (i = 0; i < ncpus; i++) {
		int r;

		run[i] = nbatch;
		while ((r = tracefs_cpu_read(cpus[i].tcpu, cpus[i].page, true)) > 0) {
			decode(&cpus[i]);
			got = 1;
		}
		cpus[i].nobuf = r < 0 && errno == ENODEV;
		if (r < 0 && errno != EAGAIN && errno != EINTR && errno != ENODEV)
			die("cannot read the ring buffer of CPU %d: %s",
			    cpus[i].cpu, strerror(errno));
	}
	run[ncpus] = nbatch;
	/* never spin if poll() says "ready" with nothing to read */
	if (ready > 0 && !got && timeout_ms > 0)
		usleep(timeout_ms * 1000);
	merge(run, ncpus);
	free(run);
	*n = nbatch;
	return merged;
}

/* --- what the kernel dropped */

static uint64_t stat_field(const char *text, const char *key)
{
	const char *p = strstr(text, key);

	return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

/*
 * Events lost in the ring buffers: overwritten before they were read
 * (overrun), lost to a nested write (commit overrun), or refused by a
 * full buffer (dropped events, when it does not overwrite).  From each
 * CPU's per_cpu/cpuN/stats; @per_cpu (ncpus entries) may be NULL.
 */
uint64_t trace_dropped(uint64_t *per_cpu, int *ncpu)
{
	uint64_t total = 0;
	char file[64];
	int i;

	for (i = 0; i < ncpus; i++) {
		char *text;
		uint64_t n = 0;

		snprintf(file, sizeof(file), "per_cpu/cpu%d/stats", cpus[i].cpu);
		text = tracefs_instance_file_read(inst, file, NULL);
		if (!text)
			die("cannot read %s/%s: %s", inst_path, file, strerror(errno));
		n = stat_field(text, "\noverrun: ") + stat_field(text, "commit overrun: ") +
		    stat_field(text, "dropped events: ");
		free(text);
		if (per_cpu)
			per_cpu[i] = n;
		total += n;
	}
	if (ncpu)
		*ncpu = ncpus;
	return total;
}
