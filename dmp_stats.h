/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dmp request counters: per-CPU, lock-free on the I/O path, summed on read.
 */
#ifndef DMP_STATS_H
#define DMP_STATS_H

#include <linux/bio.h>
#include <linux/percpu.h>
#include <linux/spinlock.h>
#include <linux/types.h>

/*
 * Raw event counters.  The order is the order of the fields printed by
 * "dmsetup status" and by the "stat" sysfs file; new counters are only ever
 * appended.  READ and WRITE are adjacent so that "+ dir" selects one.
 */
enum dmp_counter {
	DMP_READ_REQS,
	DMP_WRITE_REQS,
	DMP_READ_BYTES,
	DMP_WRITE_BYTES,
	DMP_FLUSH_REQS,
	DMP_DISCARD_REQS,
	DMP_DISCARD_BYTES,
	DMP_NR_COUNTERS
};

enum dmp_dir {
	DMP_READ,
	DMP_WRITE,
};

/* Values shown in sysfs: the raw counters and what is derived from them. */
enum dmp_value {
	DMP_V_READ_REQS,
	DMP_V_WRITE_REQS,
	DMP_V_TOTAL_REQS,
	DMP_V_READ_BYTES,
	DMP_V_WRITE_BYTES,
	DMP_V_TOTAL_BYTES,
	DMP_V_READ_AVG_SIZE,
	DMP_V_WRITE_AVG_SIZE,
	DMP_V_TOTAL_AVG_SIZE,
	DMP_V_FLUSH_REQS,
	DMP_V_DISCARD_REQS,
	DMP_V_DISCARD_BYTES,
};

struct dmp_counts {
	u64 c[DMP_NR_COUNTERS];
};

/*
 * The counters of one mapped device.  The per-CPU values only ever grow:
 * a reset records the current sums in @base instead of zeroing them, because
 * another CPU's counter cannot be cleared without racing with its owner.
 */
struct dmp_stats {
	struct dmp_counts __percpu *pcpu;
	struct dmp_counts base;
	spinlock_t base_lock;	/* protects @base */
};

int dmp_stats_init(struct dmp_stats *s);
void dmp_stats_exit(struct dmp_stats *s);
void dmp_stats_sum(const struct dmp_stats *s, struct dmp_counts *raw);
void dmp_stats_read(struct dmp_stats *s, struct dmp_counts *out);
void dmp_stats_reset(struct dmp_stats *s);

void dmp_counts_add(struct dmp_counts *to, const struct dmp_counts *c);
void dmp_counts_sub(struct dmp_counts *to, const struct dmp_counts *c);
u64 dmp_counts_value(const struct dmp_counts *c, enum dmp_value v);
int dmp_counts_format(const struct dmp_counts *c, char *buf, size_t len);

/*
 * Count one bio on the I/O path.  this_cpu_*() is a single instruction on
 * this CPU's copy: no lock, no shared cache line, safe from any context.
 *
 * Device-mapper sends each target its own empty flush, so a device whose
 * table has several dmp segments counts an empty flush only in the segment
 * marked @count_flush.  The data of a REQ_PREFLUSH write reaches us later,
 * without the flag, and is counted as a write then.
 */
static inline void dmp_stats_account(struct dmp_counts __percpu *pcpu,
				     struct bio *bio, bool count_flush)
{
	unsigned int bytes = bio->bi_iter.bi_size;
	enum dmp_dir dir;

	switch (bio_op(bio)) {
	case REQ_OP_READ:
		dir = DMP_READ;
		break;
	case REQ_OP_WRITE:
		if (unlikely(!bytes)) {
			if (count_flush)
				this_cpu_inc(pcpu->c[DMP_FLUSH_REQS]);
			return;
		}
		dir = DMP_WRITE;
		break;
	case REQ_OP_DISCARD:
	case REQ_OP_SECURE_ERASE:
	case REQ_OP_WRITE_ZEROES:
		this_cpu_inc(pcpu->c[DMP_DISCARD_REQS]);
		this_cpu_add(pcpu->c[DMP_DISCARD_BYTES], bytes);
		return;
	default:
		dir = op_is_write(bio_op(bio)) ? DMP_WRITE : DMP_READ;
		break;
	}
	this_cpu_inc(pcpu->c[DMP_READ_REQS + dir]);
	this_cpu_add(pcpu->c[DMP_READ_BYTES + dir], bytes);
}

#endif /* DMP_STATS_H */
