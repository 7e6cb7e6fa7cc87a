/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dmp request counters: per-CPU, lock-free on the I/O path, summed on read.
 */
#ifndef DMP_STATS_H
#define DMP_STATS_H

#include <linux/bio.h>
#include <linux/log2.h>
#include <linux/math64.h>
#include <linux/percpu.h>
#include <linux/spinlock.h>
#include <linux/types.h>

enum dmp_dir {
	DMP_READ,
	DMP_WRITE,
};

/*
 * Latency histogram: bucket 0 is < 1 us, bucket i (1..20) is
 * [2^(i-1), 2^i) us, bucket 21 is >= 2^20 us (1.05 s).
 * Size histogram: bucket 0 is < 1 KiB, bucket i (1..12) is
 * [512 << i, 1024 << i) bytes, bucket 13 is >= 4 MiB.
 */
#define DMP_LAT_BUCKETS		22
#define DMP_SIZE_BUCKETS	14

/*
 * Event counters, all monotonic.  Each READ/WRITE pair is adjacent so that
 * "+ dir" selects one, and the zone counters are in the order of the zone
 * kinds (enum dmp_kind).  The histograms follow the scalar counters, one
 * block of buckets per direction.  The order of the "stat" line is not this
 * one but dmp_stat_fields[] (dmp_stats.c).
 */
enum dmp_counter {
	DMP_READ_REQS,
	DMP_WRITE_REQS,
	DMP_READ_BYTES,
	DMP_WRITE_BYTES,
	DMP_READ_ERRORS,
	DMP_WRITE_ERRORS,
	DMP_READ_SEQ,
	DMP_WRITE_SEQ,
	DMP_READ_LAT_NS,
	DMP_WRITE_LAT_NS,
	DMP_FLUSH_REQS,
	DMP_DISCARD_REQS,
	DMP_DISCARD_BYTES,
	DMP_BOUNCED_REQS,
	DMP_ZONE_OPEN_REQS,
	DMP_ZONE_CLOSE_REQS,
	DMP_ZONE_FINISH_REQS,
	DMP_ZONE_RESET_REQS,
	DMP_NR_SCALARS,

	DMP_READ_LAT_HIST = DMP_NR_SCALARS,
	DMP_READ_SIZE_HIST = DMP_READ_LAT_HIST + 2 * DMP_LAT_BUCKETS,
	DMP_NR_COUNTERS = DMP_READ_SIZE_HIST + 2 * DMP_SIZE_BUCKETS,
};

/*
 * Values shown in sysfs: a raw counter (enum dmp_counter, below
 * DMP_NR_SCALARS) or one of these, derived from a snapshot.  They start
 * after every counter, so that no value id is also a histogram bucket.
 */
enum dmp_value {
	DMP_V_TOTAL_REQS = DMP_NR_COUNTERS,
	DMP_V_TOTAL_BYTES,
	DMP_V_READ_AVG_SIZE,
	DMP_V_WRITE_AVG_SIZE,
	DMP_V_TOTAL_AVG_SIZE,
	DMP_V_IN_FLIGHT,
	DMP_V_RESETS,
	DMP_V_CREATED_NS,
	DMP_V_RESET_NS,
};

/* What a bio is, for the counters: see dmp_bio_kind(). */
enum dmp_kind {
	DMP_KIND_READ = DMP_READ,
	DMP_KIND_WRITE = DMP_WRITE,
	DMP_KIND_FLUSH,
	DMP_KIND_DISCARD,
	DMP_KIND_ZONE_OPEN,
	DMP_KIND_ZONE_CLOSE,
	DMP_KIND_ZONE_FINISH,
	DMP_KIND_ZONE_RESET,
	DMP_KIND_NONE,		/* another segment's copy of an empty flush */
};

/* One CPU's share of a device's statistics. */
struct dmp_pcpu {
	u64 c[DMP_NR_COUNTERS];
	/* Mapped here minus completed here: only the sum means anything. */
	long in_flight;
	/* Where the last request of each direction mapped here ended ... */
	sector_t next[2];
	/* ... and what next[] said before it (see dmp_stats_bounce()). */
	sector_t prev[2];
};

/*
 * A counting epoch: the counts of a node start from zero when it is
 * created and at each reset.  Times are CLOCK_BOOTTIME nanoseconds (the
 * clock of /proc/uptime), unique within the module (dmp_epoch_now()).
 */
struct dmp_epoch {
	u64 resets;		/* since the node was created */
	u64 created_ns;
	u64 reset_ns;		/* the last reset, or created_ns */
};

/* A device's statistics at one moment, summed over CPUs. */
struct dmp_counts {
	u64 c[DMP_NR_COUNTERS];
	s64 in_flight;
	struct dmp_epoch epoch;
};

/*
 * The statistics of one mapped device.  A reset records the sums of the
 * per-CPU counters in @base instead of zeroing them, because another CPU's
 * counter cannot be cleared without racing with its owner.  @shown is the
 * highest value each count has had since, see dmp_counts_hold().
 */
struct dmp_stats {
	struct dmp_pcpu __percpu *pcpu;
	struct dmp_counts base;
	struct dmp_counts shown;
	spinlock_t base_lock;	/* protects @base, @shown; orders reads, resets */
};

u64 dmp_epoch_now(void);
void dmp_epoch_init(struct dmp_epoch *e);
void dmp_epoch_reset(struct dmp_epoch *e);

int dmp_stats_init(struct dmp_stats *s);
void dmp_stats_exit(struct dmp_stats *s);
void dmp_stats_sum(const struct dmp_stats *s, struct dmp_counts *raw);
void dmp_stats_read(struct dmp_stats *s, struct dmp_counts *out);
void dmp_stats_reset(struct dmp_stats *s);
void dmp_stats_submit(struct dmp_pcpu __percpu *pcpu, enum dmp_kind kind,
		      sector_t sector, unsigned int bytes);
void dmp_stats_bounce(struct dmp_pcpu __percpu *pcpu, enum dmp_kind kind,
		      sector_t sector, unsigned int bytes);

void dmp_counts_add(struct dmp_counts *to, const struct dmp_counts *c);
void dmp_counts_since(struct dmp_counts *to, const struct dmp_counts *base);
void dmp_counts_hold(struct dmp_counts *c, struct dmp_counts *shown);
u64 dmp_counts_value(const struct dmp_counts *c, unsigned int v);
int dmp_counts_format(const struct dmp_counts *c, unsigned int first,
		      unsigned int n, char *buf, size_t len);
int dmp_counts_format_stat(const struct dmp_counts *c, char *buf, size_t len);

static inline unsigned int dmp_size_bucket(unsigned int bytes)
{
	if (bytes < 1024)
		return 0;
	return min_t(unsigned int, ilog2(bytes) - 9, DMP_SIZE_BUCKETS - 1);
}

static inline unsigned int dmp_lat_bucket(u64 ns)
{
	u64 us;

	if (ns < NSEC_PER_USEC)
		return 0;
	us = div_u64(ns, NSEC_PER_USEC);
	return min_t(unsigned int, ilog2(us) + 1, DMP_LAT_BUCKETS - 1);
}

/*
 * What kind of request a bio is.  Reads and writes carry data; a zone
 * append is a write whose position the device chooses.  Device-mapper
 * sends each target its own empty flush, so a device whose table has
 * several dmp segments counts an empty flush only in the segment marked
 * @count_flush.  The data of a REQ_PREFLUSH write reaches us later, without
 * the flag, and is a write then: so the flag alone tells a flush, at
 * completion too, when the size has been consumed.  Zone management
 * requests are odd operations, which op_is_write() takes for writes: they
 * are counted apart.
 */
static inline enum dmp_kind dmp_bio_kind(struct bio *bio, bool count_flush)
{
	enum req_op op = bio_op(bio);

	/* Reads and writes first: they are nearly every request. */
	if (likely(op == REQ_OP_READ))
		return DMP_KIND_READ;
	if (likely(op == REQ_OP_WRITE)) {
		if (likely(!(bio->bi_opf & REQ_PREFLUSH)))
			return DMP_KIND_WRITE;
		return count_flush ? DMP_KIND_FLUSH : DMP_KIND_NONE;
	}
	switch (op) {
	case REQ_OP_ZONE_APPEND:
		return DMP_KIND_WRITE;
	case REQ_OP_DISCARD:
	case REQ_OP_SECURE_ERASE:
	case REQ_OP_WRITE_ZEROES:
		return DMP_KIND_DISCARD;
	case REQ_OP_ZONE_OPEN:
		return DMP_KIND_ZONE_OPEN;
	case REQ_OP_ZONE_CLOSE:
		return DMP_KIND_ZONE_CLOSE;
	case REQ_OP_ZONE_FINISH:
		return DMP_KIND_ZONE_FINISH;
	case REQ_OP_ZONE_RESET:
	case REQ_OP_ZONE_RESET_ALL:
		return DMP_KIND_ZONE_RESET;
	default:
		return DMP_KIND_NONE;
	}
}

/*
 * A read, or a write with data (without REQ_PREFLUSH): nearly every
 * request.  REQ_OP_READ is 0 and REQ_OP_WRITE is 1 (checked in dmp_init()),
 * so one test of the flags tells, and the operation is the direction.
 */
static inline bool dmp_bio_is_rw(const struct bio *bio)
{
	return !(bio->bi_opf & ((REQ_OP_MASK & ~(__force blk_opf_t)REQ_OP_WRITE) |
				REQ_PREFLUSH));
}

/*
 * Count a read or a write (dmp_bio_is_rw()) as it is mapped.  this_cpu_*()
 * updates this CPU's copy and is safe from any context, interrupts
 * included (on x86 each is a single instruction; elsewhere it may briefly
 * disable interrupts): no lock, no shared cache line.  A request is
 * sequential when it starts where the previous one of its direction mapped
 * on this CPU ended (as dm-stats counts "merges").  Every bio passed down is
 * in flight until dmp_stats_done(), whatever its kind, so that completion
 * need not know the kind.
 */
static inline void dmp_stats_submit_rw(struct dmp_pcpu __percpu *pcpu,
				       enum dmp_dir dir, sector_t sector,
				       unsigned int bytes)
{
	sector_t next;

	this_cpu_inc(pcpu->in_flight);
	this_cpu_inc(pcpu->c[DMP_READ_REQS + dir]);
	this_cpu_add(pcpu->c[DMP_READ_BYTES + dir], bytes);
	this_cpu_inc(pcpu->c[DMP_READ_SIZE_HIST + dir * DMP_SIZE_BUCKETS +
			     dmp_size_bucket(bytes)]);
	next = this_cpu_read(pcpu->next[dir]);
	if (next == sector)
		this_cpu_inc(pcpu->c[DMP_READ_SEQ + dir]);
	this_cpu_write(pcpu->prev[dir], next);
	this_cpu_write(pcpu->next[dir], sector + (bytes >> SECTOR_SHIFT));
}

/*
 * Count a completion, in whatever context the driver below completes the
 * request: the only update every request pays for at completion.
 */
static inline void dmp_stats_done(struct dmp_pcpu __percpu *pcpu)
{
	this_cpu_dec(pcpu->in_flight);
}

/* A read or write completed with an error; other kinds are not counted. */
static inline void dmp_stats_error(struct dmp_pcpu __percpu *pcpu,
				   enum dmp_kind kind)
{
	if (kind == DMP_KIND_READ || kind == DMP_KIND_WRITE)
		this_cpu_inc(pcpu->c[DMP_READ_ERRORS + kind]);
}

/* A timed read or write completed after @lat_ns. */
static inline void dmp_stats_latency(struct dmp_pcpu __percpu *pcpu,
				     enum dmp_kind kind, u64 lat_ns)
{
	if (kind != DMP_KIND_READ && kind != DMP_KIND_WRITE)
		return;
	this_cpu_add(pcpu->c[DMP_READ_LAT_NS + kind], lat_ns);
	this_cpu_inc(pcpu->c[DMP_READ_LAT_HIST + kind * DMP_LAT_BUCKETS +
			     dmp_lat_bucket(lat_ns)]);
}

#endif /* DMP_STATS_H */
