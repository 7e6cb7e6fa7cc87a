// SPDX-License-Identifier: GPL-2.0
/*
 * hostcpu: from inside the test guest, the CPU time that the host gives to
 * the QEMU process running this guest, next to the I/O done by a block
 * device.  Used by bench/guest to count I/O per second of host CPU, which
 * does not depend on what else the host runs (wall-clock throughput under
 * emulation does, a lot).
 *
 * The guest's root is the host's root over 9p; a bind mount of it shows the
 * host's /proc (the guest's own /proc is mounted over it).  With the 9p
 * cache, reads of a file whose size is 0 (every /proc file) return nothing,
 * so everything here is read with O_DIRECT, which asks the host each time.
 *
 *   hostcpu find HOSTPROC STRING
 *       the pid of the qemu-system-* process whose command line contains
 *       STRING (the run directory, unique to this guest)
 *   hostcpu watch HOSTPROC PID MS BLOCKSTAT
 *       every MS milliseconds until SIGTERM, one line:
 *       "<monotonic ns> <host CPU ns of all QEMU threads> <ios> <sectors>"
 *       where ios and sectors are reads + writes completed, from BLOCKSTAT
 *       (/sys/block/<dev>/stat)
 */
#define _GNU_SOURCE		/* O_DIRECT */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

/* The whole of a small file, NUL-terminated; -1 on error. */
static ssize_t slurp(const char *path, char *buf, size_t len, int direct)
{
	ssize_t n, got = 0;
	int fd = open(path, O_RDONLY | (direct ? O_DIRECT : 0));

	if (fd < 0 && direct)	/* not 9p (a test on the host itself) */
		fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	while ((size_t)got < len - 1 &&
	       (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += n;
	close(fd);
	buf[got] = '\0';
	return got;
}

static int find(const char *hostproc, const char *needle)
{
	static char buf[65536];
	char path[4096];
	struct dirent *de;
	DIR *d = opendir(hostproc);
	int found = 0;

	if (!d) {
		perror(hostproc);
		return 1;
	}
	while ((de = readdir(d))) {
		ssize_t i, n;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "%s/%s/cmdline", hostproc, de->d_name);
		n = slurp(path, buf, sizeof(buf), 1);
		if (n <= 0 || !strstr(buf, "qemu-system-"))
			continue;
		/* The arguments are NUL-separated; the program must be qemu. */
		if (strncmp(buf, "qemu-system-", 12) && !strstr(buf, "/qemu-system-"))
			continue;
		for (i = 0; i < n; i++)
			if (!buf[i])
				buf[i] = ' ';
		if (strstr(buf, needle)) {
			printf("%s\n", de->d_name);
			found = 1;
			break;
		}
	}
	closedir(d);
	return !found;
}

/* Sum of the first field of task/<tid>/schedstat: ns on a CPU. */
static unsigned long long cpu_ns(const char *taskdir)
{
	unsigned long long sum = 0;
	char path[8192], buf[256];
	struct dirent *de;
	DIR *d = opendir(taskdir);

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/schedstat", taskdir, de->d_name);
		if (slurp(path, buf, sizeof(buf), 1) > 0)
			sum += strtoull(buf, NULL, 10);
	}
	closedir(d);
	return sum;
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int watch(const char *hostproc, const char *pid, long ms, const char *blockstat)
{
	struct timespec pause = { ms / 1000, (ms % 1000) * 1000000L };
	char taskdir[4096], buf[512];

	snprintf(taskdir, sizeof(taskdir), "%s/%s/task", hostproc, pid);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (!stop) {
		unsigned long long f[16] = { 0 }, cpu;
		struct timespec now;
		char *p = buf;
		int i;

		cpu = cpu_ns(taskdir);
		if (slurp(blockstat, buf, sizeof(buf), 0) < 0) {
			perror(blockstat);
			return 1;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		for (i = 0; i < 16; i++)
			f[i] = strtoull(p, &p, 10);
		printf("%lld %llu %llu %llu\n",
		       (long long)now.tv_sec * 1000000000LL + now.tv_nsec, cpu,
		       f[0] + f[4], f[2] + f[6]);
		nanosleep(&pause, NULL);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "find"))
		return find(argv[2], argv[3]);
	if (argc == 6 && !strcmp(argv[1], "watch"))
		return watch(argv[2], argv[3], atol(argv[4]), argv[5]);
	fprintf(stderr, "usage: hostcpu find HOSTPROC STRING | hostcpu watch HOSTPROC PID MS BLOCKSTAT\n");
	return 2;
}
