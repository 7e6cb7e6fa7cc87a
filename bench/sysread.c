// SPDX-License-Identifier: GPL-2.0
/*
 * sysread: read sysfs statistics files the way a monitoring tool does
 * (open, read, close, every file, every time), with no exec per file, and
 * time it.  Used by bench/guest.
 *
 *   sysread time SECONDS DIR...   read every readable file of every DIR
 *                                 (a "pass"), again and again for at least
 *                                 SECONDS and 3 passes; prints
 *                                 "files=F passes=P median_us=M min_us=N
 *                                 mean_us=A"
 *   sysread loop DIR...           passes until SIGTERM/SIGINT, then prints
 *                                 "files=F passes=P seconds=S"
 *
 * The list of files is built once, at the start: a pass is open + read +
 * close of each of them, in the order of the DIRs.
 * A file that cannot be opened for reading (a write-only "reset") is left
 * out; a read that fails later (a device removed meanwhile) is counted in
 * "errors=".
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char **files;
static size_t nfiles, capfiles;
static unsigned long errors;
static volatile sig_atomic_t stop;

static void add_file(const char *path)
{
	if (nfiles == capfiles) {
		capfiles = capfiles ? 2 * capfiles : 256;
		files = realloc(files, capfiles * sizeof(*files));
		if (!files) {
			perror("sysread: realloc");
			exit(2);
		}
	}
	files[nfiles] = strdup(path);
	if (!files[nfiles]) {
		perror("sysread: strdup");
		exit(2);
	}
	nfiles++;
}

/* Every regular file of @dir that can be opened for reading. */
static void add_dir(const char *dir)
{
	char path[4096];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d) {
		fprintf(stderr, "sysread: %s: %s\n", dir, strerror(errno));
		exit(2);
	}
	while ((de = readdir(d))) {
		struct stat st;
		int fd;

		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (lstat(path, &st) || !S_ISREG(st.st_mode) || !(st.st_mode & 0444))
			continue;
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		close(fd);
		add_file(path);
	}
	closedir(d);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void pass(void)
{
	char buf[4096];
	size_t i;

	for (i = 0; i < nfiles; i++) {
		int fd = open(files[i], O_RDONLY);

		if (fd < 0) {
			errors++;
			continue;
		}
		if (read(fd, buf, sizeof(buf)) < 0)
			errors++;
		close(fd);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: sysread time SECONDS DIR... | sysread loop DIR...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int timed, first, i;
	double limit = 0, t0, total;

	if (argc < 3)
		usage();
	timed = !strcmp(argv[1], "time");
	if (!timed && strcmp(argv[1], "loop"))
		usage();
	first = 2;
	if (timed) {
		if (argc < 4)
			usage();
		limit = atof(argv[2]);
		first = 3;
	}
	for (i = first; i < argc; i++)
		add_dir(argv[i]);
	if (!nfiles) {
		fprintf(stderr, "sysread: no readable file\n");
		return 2;
	}

	if (timed) {
		size_t cap = 64, n = 0;
		double *t = malloc(cap * sizeof(*t)), sum = 0;

		if (!t)
			return 2;
		t0 = now();
		do {
			double s = now();

			pass();
			if (n == cap) {
				cap *= 2;
				t = realloc(t, cap * sizeof(*t));
				if (!t)
					return 2;
			}
			t[n] = now() - s;
			sum += t[n++];
		} while (n < 3 || now() - t0 < limit);
		qsort(t, n, sizeof(*t), cmp_double);
		printf("files=%zu passes=%zu median_us=%.1f min_us=%.1f mean_us=%.1f errors=%lu\n",
		       nfiles, n, t[n / 2] * 1e6, t[0] * 1e6, sum / n * 1e6, errors);
		free(t);
		return 0;
	}

	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	{
		unsigned long passes = 0;

		t0 = now();
		while (!stop) {
			pass();
			passes++;
		}
		total = now() - t0;
		printf("files=%zu passes=%lu seconds=%.2f errors=%lu\n", nfiles, passes, total,
		       errors);
	}
	return 0;
}
