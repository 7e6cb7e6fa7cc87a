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
	"in_flight",
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
 * @more_ok: "stat" may grow fields at its end), then a newline.
 */
static int parse_u64s(const char *buf, uint64_t *v, size_t n, int more_ok)
{
	const char *p = buf;
	char *end;
	size_t i;

	for (i = 0; i < n; i++) {
		if (*p < '0' || *p > '9')
			return -1;
		errno = 0;
		v[i] = strtoull(p, &end, 10);
		if (errno)
			return -1;
		p = end;
		if (*p == ' ')
			p++;
		else if (i + 1 < n)
			return -1;
	}
	if (*p == '\n' && p[1] == '\0')
		return 0;
	return more_ok && p[-1] == ' ' ? 0 : -1;
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
	if (parse_u64s(buf, v, n, more_ok))
		die("unexpected contents of %s/%s/%s: \"%.*s\"", dir->root,
		    dir->id, file, (int)strcspn(buf, "\n"), buf);
	return 0;
}

/* 0 when read, -ENOENT when the directory is gone. */
static int dev_read(const char *root, int rootfd, const char *id,
		    struct dev *d)
{
	static const char *const hist[2][2] = {
		{ "read_lat_hist", "write_lat_hist" },
		{ "read_size_hist", "write_size_hist" },
	};
	struct dir dir = { root, id, rootfd, -1 };
	struct stat st;
	char buf[512];
	int r, i;

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
	/*
	 * A device removed and another created in one interval may get the
	 * same major:minor, never the same directory inode.
	 */
	if (!fstat(dir.fd, &st))
		d->ino = st.st_ino;
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
	r = get_u64s(&dir, "stat", d->st, NSTAT, 1);
	for (i = 0; i < 2 && !r; i++) {
		r = get_u64s(&dir, hist[0][i], d->lat[i], LAT_BUCKETS, 0);
		if (!r)
			r = get_u64s(&dir, hist[1][i], d->size[i],
				     SIZE_BUCKETS, 0);
	}
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
