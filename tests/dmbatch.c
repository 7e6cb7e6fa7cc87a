// SPDX-License-Identifier: GPL-2.0
/*
 * dmbatch: drive the device-mapper ioctl interface from one process, as
 * dmsetup does, for tests that need thousands of operations (one dmsetup
 * exec costs ~0.2-0.4 s in the emulated test guest).
 *
 * Reads commands from stdin, one per line, fields separated by TABs (so a
 * table parameter may contain spaces), and prints one result line per
 * command: "ok[ <data>]" or "err <errno> <message>".
 *
 *   create  NAME                      DM_DEV_CREATE
 *   load    NAME START LEN TYPE PARAMS [START LEN TYPE PARAMS]...
 *   mk      NAME START LEN TYPE PARAMS...   create + load + resume; the
 *                                     device is removed if load or resume
 *                                     fails (as dmsetup create does)
 *   suspend NAME | resume NAME | remove NAME | clear NAME
 *   rename  OLD NEW
 *   message NAME SECTOR TEXT          prints the target's reply, if any
 *   status  NAME | table NAME         prints the targets, separated by " | "
 *   info    NAME                      prints "<major>:<minor> <open count>"
 *   read    NAME SECTOR [BYTES]       one O_DIRECT read of BYTES (default 512)
 *                                     at SECTOR of /dev/dm-<minor>; prints the
 *                                     first 8 bytes read, as a little-endian
 *                                     number (see stamp)
 *   write   NAME SECTOR [BYTES]       one O_DIRECT write of BYTES (default 512)
 *                                     of zeros at SECTOR of /dev/dm-<minor>
 *   put     PATH TEXT                 one write() of TEXT to the file PATH,
 *                                     after decoding the escapes \\ \n \t
 *                                     \r \v \f \0 and \xNN (a shell would
 *                                     split the write at each newline);
 *                                     prints the count written
 *   stamp   PATH                      writes its sector number into the first
 *                                     8 bytes of every 512-byte sector of the
 *                                     block device PATH (the rest zero), so a
 *                                     read shows where it landed
 *   kmark                             remember the end of the kernel log
 *   kgrep   TEXT                      prints "ok <n>": the kernel log records
 *                                     since kmark (or the last kgrep) whose
 *                                     text contains TEXT
 *   insmod  PATH [PARAMS]             finit_module() of the module file PATH
 *   rmmod   NAME                      delete_module() of NAME (O_NONBLOCK)
 *   fail    N CMD ARG...              CMD with the kernel's fault injection
 *                                     armed to fail the N-th fallible call
 *                                     (allocation, ...) this thread makes
 *                                     (/proc/thread-self/fail-nth); its result
 *                                     line with " nth=<left>" appended: left
 *                                     is 0 if the N-th call happened (and
 *                                     failed), else N minus the calls made
 *
 * The device nodes are not created: use /dev/dm-N (devtmpfs).
 */
#define _GNU_SOURCE		/* O_DIRECT */
#include <errno.h>
#include <fcntl.h>
#include <linux/dm-ioctl.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define MAX_FIELDS	4096

static int control = -1;
static FILE *res;		/* where result lines go: stdout, or "fail"'s buffer */

__attribute__((format(printf, 1, 2)))
static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(res, fmt, ap);
	va_end(ap);
}

static struct dm_ioctl *dm_alloc(size_t data, const char *name)
{
	size_t size = sizeof(struct dm_ioctl) + data + 16384;
	struct dm_ioctl *io = calloc(1, size);

	if (!io) {
		perror("dmbatch: calloc");
		exit(2);
	}
	io->version[0] = DM_VERSION_MAJOR;
	io->version[1] = 0;
	io->version[2] = 0;
	io->data_size = size;
	io->data_start = sizeof(struct dm_ioctl);
	if (name)
		snprintf(io->name, sizeof(io->name), "%s", name);
	return io;
}

/* Issue one ioctl; on failure print the error line and return -errno. */
static int dm_run(unsigned long cmd, struct dm_ioctl *io, int quiet)
{
	if (ioctl(control, cmd, io) == 0)
		return 0;
	if (!quiet)
		say("err %d %s\n", errno, strerror(errno));
	return -errno;
}

static int simple(unsigned long cmd, const char *name, unsigned int flags, int quiet)
{
	struct dm_ioctl *io = dm_alloc(0, name);
	int r;

	io->flags = flags;
	r = dm_run(cmd, io, quiet);
	free(io);
	return r;
}

/* fields: START LEN TYPE PARAMS, repeated */
static int load(const char *name, char **f, int n, int quiet)
{
	size_t data = 0;
	struct dm_ioctl *io;
	char *p;
	int i, r;

	if (n <= 0 || n % 4) {
		if (!quiet)
			say("err %d bad target fields\n", EINVAL);
		return -EINVAL;
	}
	for (i = 0; i < n; i += 4)
		data += sizeof(struct dm_target_spec) + strlen(f[i + 3]) + 16;
	io = dm_alloc(data, name);
	io->target_count = n / 4;
	p = (char *)io + io->data_start;
	for (i = 0; i < n; i += 4) {
		struct dm_target_spec *spec = (struct dm_target_spec *)p;
		size_t len = strlen(f[i + 3]) + 1;

		spec->sector_start = strtoull(f[i], NULL, 0);
		spec->length = strtoull(f[i + 1], NULL, 0);
		snprintf(spec->target_type, sizeof(spec->target_type), "%s", f[i + 2]);
		memcpy(p + sizeof(*spec), f[i + 3], len);
		spec->next = (sizeof(*spec) + len + 7) & ~7UL;
		p += spec->next;
	}
	r = dm_run(DM_TABLE_LOAD, io, quiet);
	free(io);
	return r;
}

static void status(const char *name, int table)
{
	size_t extra = 16384;

	for (;;) {
		struct dm_ioctl *io = dm_alloc(extra, name);
		struct dm_target_spec *spec;
		char *data;
		unsigned int i;

		io->flags = table ? DM_STATUS_TABLE_FLAG : 0;
		if (dm_run(DM_TABLE_STATUS, io, 0)) {
			free(io);
			return;
		}
		if (io->flags & DM_BUFFER_FULL_FLAG) {
			free(io);
			extra *= 4;
			continue;
		}
		data = (char *)io + io->data_start;
		say("ok");
		for (i = 0, spec = (struct dm_target_spec *)data; i < io->target_count; i++) {
			say("%s%llu %llu %s %s", i ? " | " : " ",
			       (unsigned long long)spec->sector_start,
			       (unsigned long long)spec->length, spec->target_type,
			       (char *)(spec + 1));
			spec = (struct dm_target_spec *)(data + spec->next);
		}
		say("\n");
		free(io);
		return;
	}
}

static void message(const char *name, const char *sector, const char *text)
{
	size_t len = strlen(text) + 1;
	struct dm_ioctl *io = dm_alloc(sizeof(struct dm_target_msg) + len, name);
	struct dm_target_msg *msg = (struct dm_target_msg *)((char *)io + io->data_start);

	msg->sector = strtoull(sector, NULL, 0);
	memcpy(msg->message, text, len);
	if (!dm_run(DM_TARGET_MSG, io, 0)) {
		if (io->flags & DM_DATA_OUT_FLAG)
			say("ok %s\n", (char *)io + io->data_start);
		else
			say("ok\n");
	}
	free(io);
}

static void rename_dev(const char *from, const char *to)
{
	struct dm_ioctl *io = dm_alloc(strlen(to) + 1, from);

	strcpy((char *)io + io->data_start, to);
	if (!dm_run(DM_DEV_RENAME, io, 0))
		say("ok\n");
	free(io);
}

static void info(const char *name)
{
	struct dm_ioctl *io = dm_alloc(0, name);

	if (!dm_run(DM_DEV_STATUS, io, 0))
		say("ok %u:%u %d\n", major(io->dev), minor(io->dev), io->open_count);
	free(io);
}

/* The minor number of a dm device, or -errno (error line printed). */
static int dm_minor(const char *name)
{
	struct dm_ioctl *io = dm_alloc(0, name);
	int r = dm_run(DM_DEV_STATUS, io, 0);

	if (!r)
		r = minor(io->dev);
	free(io);
	return r;
}

static void rw_dev(const char *name, const char *sector, const char *bytes,
		   int write)
{
	size_t len = bytes ? strtoull(bytes, NULL, 0) : 512;
	unsigned long long stamp = 0;
	char path[64];
	void *buf;
	ssize_t got;
	int fd, m;

	m = dm_minor(name);
	if (m < 0)
		return;
	snprintf(path, sizeof(path), "/dev/dm-%d", m);
	fd = open(path, (write ? O_WRONLY : O_RDONLY) | O_DIRECT | O_CLOEXEC);
	if (fd < 0) {
		say("err %d open %s: %s\n", errno, path, strerror(errno));
		return;
	}
	if (len < 8 || posix_memalign(&buf, 4096, len)) {
		say("err %d bad length %zu\n", EINVAL, len);
		close(fd);
		return;
	}
	if (write) {
		memset(buf, 0, len);
		got = pwrite(fd, buf, len, (off_t)strtoull(sector, NULL, 0) * 512);
	} else {
		got = pread(fd, buf, len, (off_t)strtoull(sector, NULL, 0) * 512);
	}
	if (got < 0)
		say("err %d %s\n", errno, strerror(errno));
	else if ((size_t)got != len)
		say("err %d short %s: %zd bytes\n", EIO, write ? "write" : "read", got);
	else if (write)
		say("ok\n");
	else {
		memcpy(&stamp, buf, sizeof(stamp));
		say("ok %llu\n", stamp);
	}
	free(buf);
	close(fd);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void put_file(const char *path, const char *text)
{
	char *buf = malloc(strlen(text) + 1);
	size_t n = 0;
	ssize_t put;
	int fd;

	if (!buf) {
		say("err %d no memory\n", ENOMEM);
		return;
	}
	while (*text) {
		char c = *text++;

		if (c == '\\' && *text) {
			c = *text++;
			switch (c) {
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case 'v': c = '\v'; break;
			case 'f': c = '\f'; break;
			case '0': c = '\0'; break;
			case 'x':
				if (hexval(text[0]) >= 0 && hexval(text[1]) >= 0) {
					c = hexval(text[0]) * 16 + hexval(text[1]);
					text += 2;
				}
				break;
			default: break;	/* \\ and anything else: itself */
			}
		}
		buf[n++] = c;
	}
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		say("err %d %s\n", errno, strerror(errno));
	} else {
		put = write(fd, buf, n);
		if (put < 0)
			say("err %d %s\n", errno, strerror(errno));
		else
			say("ok %zd\n", put);
		close(fd);
	}
	free(buf);
}

static void stamp_dev(const char *path)
{
	const size_t chunk = 1 << 20;
	unsigned long long size, sector, n;
	char *buf;
	size_t i;
	int fd;

	fd = open(path, O_WRONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0) {
		say("err %d open %s: %s\n", errno, path, strerror(errno));
		return;
	}
	if (ioctl(fd, BLKGETSIZE64, &size) ||
	    posix_memalign((void **)&buf, 4096, chunk)) {
		say("err %d %s: size: %s\n", errno, path, strerror(errno));
		close(fd);
		return;
	}
	memset(buf, 0, chunk);
	for (sector = 0; sector < size / 512; sector += n) {
		n = size / 512 - sector;
		if (n > chunk / 512)
			n = chunk / 512;
		for (i = 0; i < n; i++) {
			unsigned long long s = sector + i;

			memcpy(buf + i * 512, &s, sizeof(s));
		}
		if (pwrite(fd, buf, n * 512, (off_t)sector * 512) != (ssize_t)(n * 512)) {
			say("err %d write at sector %llu: %s\n", errno, sector,
			       strerror(errno));
			goto out;
		}
	}
	if (fsync(fd))
		say("err %d fsync: %s\n", errno, strerror(errno));
	else
		say("ok %llu\n", sector);
out:
	free(buf);
	close(fd);
}

static int kmsg = -1;

/* /dev/kmsg from its end on (it keeps its place between reads). */
static void kmark(void)
{
	if (kmsg < 0)
		kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (kmsg < 0 || lseek(kmsg, 0, SEEK_END) < 0) {
		say("err %d /dev/kmsg: %s\n", errno, strerror(errno));
		return;
	}
	say("ok\n");
}

/* Records are "prio,seq,usec,flags;text\n" followed by continuation lines. */
static void kgrep(const char *text)
{
	static char rec[8192];
	unsigned long n = 0;
	ssize_t len;

	if (kmsg < 0) {
		say("err %d kgrep before kmark\n", EINVAL);
		return;
	}
	for (;;) {
		len = read(kmsg, rec, sizeof(rec) - 1);
		if (len < 0 && errno == EPIPE)
			continue;	/* overwritten records: go on */
		if (len <= 0)
			break;
		rec[len] = '\0';
		if (strstr(strchr(rec, ';') ? strchr(rec, ';') : rec, text))
			n++;
	}
	say("ok %lu\n", n);
}

/*
 * The module file stays open from one insmod to the next, so that a
 * failure injected into an insmod ("fail") falls into the load itself and
 * not into the open or close of the file: a failure in the close of a
 * file on the guest's 9p root (its clunk) left every later open of that
 * file failing with EINVAL, a fault of the 9p client, not of the module.
 */
static void insmod(const char *path, const char *params)
{
	static char open_path[4096];
	static int fd = -1;

	if (fd < 0 || strcmp(path, open_path)) {
		if (fd >= 0)
			close(fd);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			say("err %d %s: %s\n", errno, path, strerror(errno));
			return;
		}
		snprintf(open_path, sizeof(open_path), "%s", path);
	}
	if (syscall(SYS_finit_module, fd, params, 0))
		say("err %d insmod %s: %s\n", errno, path, strerror(errno));
	else
		say("ok\n");
}

static void rmmod(const char *name)
{
	if (syscall(SYS_delete_module, name, O_NONBLOCK))
		say("err %d rmmod %s: %s\n", errno, name, strerror(errno));
	else
		say("ok\n");
}

static void command(char **f, int n);

/*
 * Run a command with the N-th fallible call of this thread failing.  No
 * system call but the command's own runs while it is armed: the result
 * line goes to a buffer set up before, and the heap does not grow (main()
 * grew it once and keeps it).
 */
static void fail_nth(const char *nth, char **f, int n)
{
	static char line[65536];
	char left[32] = "";
	FILE *mem, *saved = res;
	ssize_t len;
	int fd;

	fd = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	mem = fmemopen(line, sizeof(line) - 1, "w");
	if (fd < 0 || !mem) {
		say("err %d /proc/thread-self/fail-nth: %s\n", errno, strerror(errno));
		goto out;
	}
	setvbuf(mem, NULL, _IONBF, 0);
	memset(line, 0, sizeof(line));
	res = mem;
	if (write(fd, nth, strlen(nth)) < 0) {
		res = saved;
		say("err %d fail-nth %s: %s\n", errno, nth, strerror(errno));
		goto out;
	}
	command(f, n);
	len = pread(fd, left, sizeof(left) - 1, 0);
	if (write(fd, "0", 1) < 0 || len < 0) {
		res = saved;
		say("err %d fail-nth: %s\n", errno, strerror(errno));
		goto out;
	}
	res = saved;
	left[len] = '\0';
	left[strcspn(left, "\n")] = '\0';
	line[strcspn(line, "\n")] = '\0';
	say("%s nth=%s\n", line, left);
out:
	res = saved;
	if (mem)
		fclose(mem);
	if (fd >= 0)
		close(fd);
}

static void command(char **f, int n)
{
	const char *cmd = f[0], *name = n > 1 ? f[1] : "";

	if (!strcmp(cmd, "create") && n == 2) {
		if (!simple(DM_DEV_CREATE, name, 0, 0))
			say("ok\n");
	} else if (!strcmp(cmd, "load") && n >= 2) {
		if (!load(name, f + 2, n - 2, 0))
			say("ok\n");
	} else if (!strcmp(cmd, "mk") && n >= 2) {
		if (simple(DM_DEV_CREATE, name, 0, 0))
			return;
		if (load(name, f + 2, n - 2, 0) ||
		    simple(DM_DEV_SUSPEND, name, 0, 0)) {
			simple(DM_DEV_REMOVE, name, 0, 1);
			return;
		}
		say("ok\n");
	} else if (!strcmp(cmd, "suspend") && n == 2) {
		if (!simple(DM_DEV_SUSPEND, name, DM_SUSPEND_FLAG, 0))
			say("ok\n");
	} else if (!strcmp(cmd, "resume") && n == 2) {
		if (!simple(DM_DEV_SUSPEND, name, 0, 0))
			say("ok\n");
	} else if (!strcmp(cmd, "remove") && n == 2) {
		if (!simple(DM_DEV_REMOVE, name, 0, 0))
			say("ok\n");
	} else if (!strcmp(cmd, "clear") && n == 2) {
		if (!simple(DM_TABLE_CLEAR, name, 0, 0))
			say("ok\n");
	} else if (!strcmp(cmd, "rename") && n == 3) {
		rename_dev(name, f[2]);
	} else if (!strcmp(cmd, "message") && n == 4) {
		message(name, f[2], f[3]);
	} else if (!strcmp(cmd, "status") && n == 2) {
		status(name, 0);
	} else if (!strcmp(cmd, "table") && n == 2) {
		status(name, 1);
	} else if (!strcmp(cmd, "info") && n == 2) {
		info(name);
	} else if (!strcmp(cmd, "read") && (n == 3 || n == 4)) {
		rw_dev(name, f[2], n == 4 ? f[3] : NULL, 0);
	} else if (!strcmp(cmd, "write") && (n == 3 || n == 4)) {
		rw_dev(name, f[2], n == 4 ? f[3] : NULL, 1);
	} else if (!strcmp(cmd, "put") && n == 3) {
		put_file(name, f[2]);
	} else if (!strcmp(cmd, "stamp") && n == 2) {
		stamp_dev(name);
	} else if (!strcmp(cmd, "kmark") && n == 1) {
		kmark();
	} else if (!strcmp(cmd, "kgrep") && n == 2) {
		kgrep(name);
	} else if (!strcmp(cmd, "insmod") && (n == 2 || n == 3)) {
		insmod(name, n == 3 ? f[2] : "");
	} else if (!strcmp(cmd, "rmmod") && n == 2) {
		rmmod(name);
	} else if (!strcmp(cmd, "fail") && n >= 3) {
		fail_nth(name, f + 2, n - 2);
	} else {
		say("err %d unknown command or wrong field count: %s\n", EINVAL, cmd);
	}
}

int main(void)
{
	static char *fields[MAX_FIELDS];
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;

	control = open("/dev/mapper/control", O_RDWR | O_CLOEXEC);
	if (control < 0) {
		perror("dmbatch: /dev/mapper/control");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	res = stdout;
	/*
	 * Grow the heap once and keep it, so that a command run by "fail"
	 * allocates without a system call (which the injection would count).
	 */
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
	mallopt(M_TRIM_THRESHOLD, -1);
	mallopt(M_TOP_PAD, 16 << 20);
	free(malloc(8 << 20));
	while ((len = getline(&line, &cap, stdin)) >= 0) {
		char *p = line;
		int n = 0;

		if (len && line[len - 1] == '\n')
			line[--len] = '\0';
		if (!len)
			continue;
		while (n < MAX_FIELDS) {
			fields[n++] = p;
			p = strchr(p, '\t');
			if (!p)
				break;
			*p++ = '\0';
		}
		command(fields, n);
	}
	free(line);
	close(control);
	return 0;
}
