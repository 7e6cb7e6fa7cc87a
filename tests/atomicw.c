// SPDX-License-Identifier: GPL-2.0
/*
 * atomicw: one atomic write (pwritev2 with RWF_ATOMIC, O_DIRECT) of LENGTH
 * bytes at OFFSET of a block device, filled with the byte PATTERN (default
 * 0x5a).  Prints "ok" or "err <errno> <message>"; exits 0 either way, 2 on
 * a usage or setup error.  For the atomic-write tests (Linux 6.11 and
 * later know RWF_ATOMIC; the C library may not have it yet).
 *
 *   atomicw PATH OFFSET LENGTH [PATTERN]
 */
#define _GNU_SOURCE		/* O_DIRECT, pwritev2 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef RWF_ATOMIC
#define RWF_ATOMIC	0x00000040	/* include/uapi/linux/fs.h */
#endif

int main(int argc, char **argv)
{
	struct iovec iov;
	long long off;
	size_t len;
	ssize_t n;
	void *buf;
	int fd;

	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: atomicw PATH OFFSET LENGTH [PATTERN]\n");
		return 2;
	}
	off = strtoll(argv[2], NULL, 0);
	len = strtoull(argv[3], NULL, 0);
	if (posix_memalign(&buf, 4096, len ? len : 1)) {
		perror("atomicw: posix_memalign");
		return 2;
	}
	memset(buf, argc == 5 ? (int)strtol(argv[4], NULL, 0) : 0x5a, len);
	fd = open(argv[1], O_WRONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "atomicw: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	iov.iov_base = buf;
	iov.iov_len = len;
	n = pwritev2(fd, &iov, 1, off, RWF_ATOMIC);
	if (n == (ssize_t)len)
		printf("ok\n");
	else if (n >= 0)
		printf("err 0 short write of %zd bytes\n", n);
	else
		printf("err %d %s\n", errno, strerror(errno));
	close(fd);
	free(buf);
	return 0;
}
