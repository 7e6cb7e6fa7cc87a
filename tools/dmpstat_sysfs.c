// SPDX-License-Identifier: GPL-2.0
/*
 * dmpstat: read the stat directories of /sys/module/dmp/stat.
 *
 * A device can be removed at any moment: its directory, or a file in it,
 * then fails with ENOENT or ENODEV, and the device is simply left out of
 * the snapshot.  Anything else that is not as README describes is fatal.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dmpstat.h"

const char *const stat_names[NSTAT] = {
	"read_reqs", "write_reqs", "read_bytes", "write_bytes", "flush_reqs",
	"discard_reqs", "discard_bytes", "read_errors", "write_errors",
	"read_seq_reqs", "write_seq_reqs", "read_lat_ns", "write_lat_ns",
	"in_flight", "bounced_reqs", "zone_open_reqs", "zone_close_reqs",
	"zone_finish_reqs", "zone_reset_reqs", "resets", "created_ns",
	"reset_ns",
};

static void vnote(const char *fmt, va_list ap)
{
	fflush(stdout);
	fputs("dmpstat: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vnote(fmt, ap);
	va_end(ap);
	exit(1);
}

void note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vnote(fmt, ap);
	va_end(ap);
}

double now_boottime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * CLOCK_REALTIME - CLOCK_BOOTTIME: the realtime clock read between two
 * boottime reads.  Converts the epoch times (CLOCK_BOOTTIME) to Unix time.
 */
static double real_offset(void)
{
	struct timespec b1, r, b2;

	clock_gettime(CLOCK_BOOTTIME, &b1);
	clock_gettime(CLOCK_REALTIME, &r);
	clock_gettime(CLOCK_BOOTTIME, &b2);
	return (r.tv_sec - (b1.tv_sec + b2.tv_sec) / 2.0) +
	       (r.tv_nsec - (b1.tv_nsec + b2.tv_nsec) / 2.0) / 1e9;
}

/* A sysfs file (one page at most) into buf; 0 or -errno. */
static int read_file(int dirfd, const char *file, char *buf, size_t len)
{
	ssize_t n;
	int fd, err;

	fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	err = errno;
	close(fd);
	if (n < 0)
		return -err;
	buf[n] = '\0';
	return 0;
}

/*
 * At least n space-separated decimal u64s (more are allowed when
 * @more_ok: "stat" may grow fields at its end), then a newline.  Returns
 * 0, or the number of fields found (as -1 - fields) if there are fewer.
 */
static int parse_u64s(const char *buf, uint64_t *v, size_t n, int more_ok)
{
	const char *p = buf;
	char *end;
	size_t i;

	for (i = 0; i < n; i++) {
		if (*p < '0' || *p > '9')
			return -1 - (int)i;
		errno = 0;
		v[i] = strtoull(p, &end, 10);
		if (errno)
			return -1 - (int)i;
		p = end;
		if (*p == ' ')
			p++;
		else if (i + 1 < n)
			return *p == '\n' && !p[1] ? -2 - (int)i : -1 - (int)i;
	}
	if (*p == '\n' && p[1] == '\0')
		return 0;
	return more_ok && p[-1] == ' ' ? 0 : -1 - (int)n;
}

struct dir {
	const char *root, *id;
	int rootfd, fd;
};

/* 0, or -ENOENT when the device went away; dies on anything unexpected. */
static int get(const struct dir *dir, const char *file, char *buf, size_t len)
{
	struct stat st;
	int r = read_file(dir->fd, file, buf, len);

	if (r == -ENODEV)
		return -ENOENT;
	/*
	 * A device's directory exists a moment before its files and outlives
	 * them by a moment: a file missing there means the device is coming
	 * or going.  Only "all" is always complete.
	 */
	if (r == -ENOENT && !strcmp(dir->id, "all") &&
	    fstatat(dir->rootfd, dir->id, &st, 0) == 0)
		die("%s/%s/%s is missing: is the dmp module older than dmpstat?",
		    dir->root, dir->id, file);
	if (r && r != -ENOENT)
		die("cannot read %s/%s/%s: %s", dir->root, dir->id, file,
		    strerror(-r));
	return r;
}

static int get_u64s(const struct dir *dir, const char *file, uint64_t *v,
		    size_t n, int more_ok)
{
	char buf[4096];
	int r = get(dir, file, buf, sizeof(buf));

	if (r)
		return r;
	r = parse_u64s(buf, v, n, more_ok);
	/* a well-formed line that is too short: an older module */
	if (r < 0 && more_ok && buf[strspn(buf, "0123456789 ")] == '\n' &&
	    (size_t)(-1 - r) < n)
		die("%s/%s/%s has %d fields, dmpstat needs %zu: is the dmp module older than dmpstat?",
		    dir->root, dir->id, file, -1 - r, n);
	if (r)
		die("unexpected contents of %s/%s/%s: \"%.*s\"", dir->root,
		    dir->id, file, (int)strcspn(buf, "\n"), buf);
	return 0;
}

/*
 * "stat", the histograms, then "reset_ns" again: the histograms are of the
 * epoch of "stat" when it did not change meanwhile (epochs never share a
 * time).  A reset in between: read them all again.
 */
static int counts_read(const struct dir *dir, struct dev *d)
{
	static const char *const hist[2][2] = {
		{ "read_lat_hist", "write_lat_hist" },
		{ "read_size_hist", "write_size_hist" },
	};
	uint64_t reset_ns;
	int r, i, tries;

	for (tries = 0; tries < 100; tries++) {
		d->t = now_boottime();
		r = get_u64s(dir, "stat", d->st, NSTAT, 1);
		for (i = 0; i < 2 && !r; i++) {
			r = get_u64s(dir, hist[0][i], d->lat[i], LAT_BUCKETS, 0);
			if (!r)
				r = get_u64s(dir, hist[1][i], d->size[i],
					     SIZE_BUCKETS, 0);
		}
		if (!r)
			r = get_u64s(dir, "reset_ns", &reset_ns, 1, 0);
		if (r || reset_ns == d->st[S_RESET_NS])
			return r;
	}
	die("the counters of %s/%s are reset faster than they can be read",
	    dir->root, dir->id);
}

/* 0 when read, -ENOENT when the directory is gone. */
static int dev_read(const char *root, int rootfd, const char *id,
		    struct dev *d)
{
	struct dir dir = { root, id, rootfd, -1 };
	char buf[512];
	int r;

	memset(d, 0, sizeof(*d));
	snprintf(d->id, sizeof(d->id), "%s", id);
	d->is_all = !strcmp(id, "all");
	d->latency = -1;
	dir.fd = openat(rootfd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir.fd < 0) {
		if (errno == ENOENT || errno == ENODEV)
			return -ENOENT;
		die("cannot open %s/%s: %s", root, id, strerror(errno));
	}
	if (d->is_all) {
		strcpy(d->name, "all");
	} else {
		r = get(&dir, "name", d->name, sizeof(d->name));
		if (r)
			goto out;
		d->name[strcspn(d->name, "\n")] = '\0';
		r = get(&dir, "latency", buf, sizeof(buf));
		if (r)
			goto out;
		d->latency = !strcmp(buf, "on\n");
	}
	r = counts_read(&dir, d);
out:
	close(dir.fd);
	return r;
}

static int by_devt(const void *a, const void *b)
{
	const struct dev *x = a, *y = b;
	unsigned int xmaj, xmin, ymaj, ymin;

	sscanf(x->id, "%u:%u", &xmaj, &xmin);
	sscanf(y->id, "%u:%u", &ymaj, &ymin);
	if (xmaj != ymaj)
		return xmaj < ymaj ? -1 : 1;
	return xmin < ymin ? -1 : xmin > ymin;
}

/* "major:minor" and nothing else. */
static int is_devt(const char *s)
{
	unsigned int maj, min;
	int n = -1;

	return sscanf(s, "%u:%u%n", &maj, &min, &n) == 2 && s[n] == '\0' &&
	       s[0] >= '0' && s[0] <= '9';
}

static struct dev *grow(struct snap *s, size_t *cap)
{
	if (s->n == *cap) {
		*cap = *cap ? 2 * *cap : 16;
		s->dev = realloc(s->dev, *cap * sizeof(*s->dev));
		if (!s->dev)
			die("out of memory");
	}
	return &s->dev[s->n];
}

int snap_read(const char *root, struct snap *s)
{
	struct dirent *de;
	struct stat st;
	size_t cap = 0;
	DIR *dir;
	int fd;

	s->dev = NULL;
	s->n = 0;
	s->t = now_boottime();
	s->real_off = real_offset();
	dir = opendir(root);
	if (!dir) {
		if (errno == ENOENT)
			return SNAP_NO_MODULE;
		die("cannot open %s: %s", root, strerror(errno));
	}
	fd = dirfd(dir);
	while ((de = readdir(dir))) {
		/* the directories; the name links are symlinks */
		if (!is_devt(de->d_name))
			continue;
		if (de->d_type == DT_UNKNOWN) {
			if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) ||
			    !S_ISDIR(st.st_mode))
				continue;
		} else if (de->d_type != DT_DIR) {
			continue;
		}
		if (!dev_read(root, fd, de->d_name, grow(s, &cap)))
			s->n++;
	}
	qsort(s->dev, s->n, sizeof(*s->dev), by_devt);
	if (dev_read(root, fd, "all", grow(s, &cap))) {
		closedir(dir);
		snap_free(s);
		return SNAP_NO_MODULE;	/* unloaded while we read */
	}
	s->n++;
	closedir(dir);
	return SNAP_OK;
}

void snap_free(struct snap *s)
{
	free(s->dev);
	s->dev = NULL;
	s->n = 0;
}

const struct dev *snap_find(const struct snap *s, const char *id)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (!strcmp(s->dev[i].id, id))
			return &s->dev[i];
	return NULL;
}

int selected(const struct select *sel, const struct dev *d)
{
	size_t i;

	if (!sel->n)
		return 1;
	for (i = 0; i < sel->n; i++)
		if (!strcmp(sel->what[i], d->id) ||
		    (d->name[0] && !strcmp(sel->what[i], d->name)))
			return 1;
	return 0;
}

const char *dev_label(const struct dev *d)
{
	return d->name[0] ? d->name : d->id;
}

/* The same counting epoch: same node, no reset in between. */
int same_epoch(const struct dev *a, const struct dev *b)
{
	return a->st[S_CREATED_NS] == b->st[S_CREATED_NS] &&
	       a->st[S_RESET_NS] == b->st[S_RESET_NS];
}

static void keep_max(uint64_t *now, const uint64_t *then, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (now[i] < then[i])
			now[i] = then[i];
}

/*
 * Within one epoch a counter can still go down by the few requests that
 * were counted when mapped and then bounced (taken back, see bounced_reqs
 * in README): keep every counter of @now at least where it was in @then,
 * so that no interval is negative and the intervals add up.  The counter
 * catches up as soon as its retry is counted.
 */
void keep_monotonic(struct snap *now, const struct snap *then)
{
	size_t k;
	int i;

	for (k = 0; k < now->n; k++) {
		struct dev *d = &now->dev[k];
		const struct dev *o = snap_find(then, d->id);

		if (!o || !same_epoch(d, o))
			continue;
		keep_max(d->st, o->st, NCOUNTERS);
		keep_max(&d->st[S_BOUNCED], &o->st[S_BOUNCED],
			 S_RESETS - S_BOUNCED);
		for (i = 0; i < 2; i++) {
			keep_max(d->lat[i], o->lat[i], LAT_BUCKETS);
			keep_max(d->size[i], o->size[i], SIZE_BUCKETS);
		}
	}
}
