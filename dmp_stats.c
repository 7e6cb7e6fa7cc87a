// SPDX-License-Identifier: GPL-2.0
/*
 * dmp request counters: summing, baselines, epochs and formatting.
 * Everything here runs when the counters are read or reset, or when a
 * request bounces, never on the common I/O path.
 */
#include <linux/atomic.h>
#include <linux/error-injection.h>
#include <linux/kernel.h>
#include <linux/ktime.h>

#include "dmp_stats.h"

/*
 * The time of a new epoch: CLOCK_BOOTTIME, but strictly later than every
 * epoch before it, so that two epochs never share a time and a reader
 * tells them apart by the time alone.
 */
u64 dmp_epoch_now(void)
{
	static atomic64_t last = ATOMIC64_INIT(0);
	s64 now = ktime_get_boottime_ns();
	s64 old = atomic64_read(&last);

	do {
		if (now <= old)
			now = old + 1;
	} while (!atomic64_try_cmpxchg(&last, &old, now));
	return now;
}

void dmp_epoch_init(struct dmp_epoch *e)
{
	e->resets = 0;
	e->created_ns = dmp_epoch_now();
	e->reset_ns = e->created_ns;
}

void dmp_epoch_reset(struct dmp_epoch *e)
{
	e->resets++;
	e->reset_ns = dmp_epoch_now();
}

/*
 * Not inlined, and open to fault injection (fail_function): the test of
 * every failing allocation fails it as if alloc_percpu() had.
 */
noinline int dmp_stats_init(struct dmp_stats *s)
{
	int cpu;

	s->pcpu = alloc_percpu(struct dmp_pcpu);
	if (!s->pcpu)
		return -ENOMEM;
	/* No request has ended anywhere yet: the first one is not sequential. */
	for_each_possible_cpu(cpu) {
		struct dmp_pcpu *p = per_cpu_ptr(s->pcpu, cpu);

		p->next[DMP_READ] = (sector_t)-1;
		p->next[DMP_WRITE] = (sector_t)-1;
	}
	memset(&s->base, 0, sizeof(s->base));
	memset(&s->shown, 0, sizeof(s->shown));
	dmp_epoch_init(&s->base.epoch);
	spin_lock_init(&s->base_lock);
	return 0;
}

ALLOW_ERROR_INJECTION(dmp_stats_init, ERRNO);

void dmp_stats_exit(struct dmp_stats *s)
{
	free_percpu(s->pcpu);
	s->pcpu = NULL;
}

/*
 * Sum over every possible CPU, not just the online ones: a CPU that went
 * offline keeps the counts it made, and a request may complete on another
 * CPU than the one that mapped it.  Each value is read once, so the sum is
 * exact for all I/O that was counted before the read began; a request
 * counted while the sum runs may be in one field and not yet in another.
 */
void dmp_stats_sum(const struct dmp_stats *s, struct dmp_counts *raw)
{
	int cpu, i;

	memset(raw, 0, sizeof(*raw));
	for_each_possible_cpu(cpu) {
		const struct dmp_pcpu *p = per_cpu_ptr(s->pcpu, cpu);

		for (i = 0; i < DMP_NR_COUNTERS; i++)
			raw->c[i] += READ_ONCE(p->c[i]);
		raw->in_flight += READ_ONCE(p->in_flight);
	}
}

/*
 * The counts since the last reset, and their epoch.  Summing under the lock
 * orders this read after or before any reset.
 */
void dmp_stats_read(struct dmp_stats *s, struct dmp_counts *out)
{
	spin_lock(&s->base_lock);
	dmp_stats_sum(s, out);
	dmp_counts_since(out, &s->base);
	dmp_counts_hold(out, &s->shown);
	spin_unlock(&s->base_lock);
}

void dmp_stats_reset(struct dmp_stats *s)
{
	struct dmp_epoch epoch;

	spin_lock(&s->base_lock);
	epoch = s->base.epoch;
	dmp_stats_sum(s, &s->base);
	s->base.in_flight = 0;		/* a gauge: never reset */
	dmp_epoch_reset(&epoch);
	s->base.epoch = epoch;
	memset(&s->shown, 0, sizeof(s->shown));
	spin_unlock(&s->base_lock);
}

/*
 * Count a request of any kind as it is mapped: out of line, as nearly
 * every request is a read or a write, which dmp_stats_submit_rw() counts.
 */
void dmp_stats_submit(struct dmp_pcpu __percpu *pcpu, enum dmp_kind kind,
		      sector_t sector, unsigned int bytes)
{
	switch (kind) {
	case DMP_KIND_READ:
	case DMP_KIND_WRITE:
		dmp_stats_submit_rw(pcpu, (enum dmp_dir)kind, sector, bytes);
		return;
	case DMP_KIND_FLUSH:
		this_cpu_inc(pcpu->c[DMP_FLUSH_REQS]);
		break;
	case DMP_KIND_DISCARD:
		this_cpu_inc(pcpu->c[DMP_DISCARD_REQS]);
		this_cpu_add(pcpu->c[DMP_DISCARD_BYTES], bytes);
		break;
	case DMP_KIND_ZONE_OPEN:
	case DMP_KIND_ZONE_CLOSE:
	case DMP_KIND_ZONE_FINISH:
	case DMP_KIND_ZONE_RESET:
		this_cpu_inc(pcpu->c[DMP_ZONE_OPEN_REQS + kind -
				     DMP_KIND_ZONE_OPEN]);
		break;
	case DMP_KIND_NONE:
		break;
	}
	this_cpu_inc(pcpu->in_flight);
}

/*
 * A request that came back with BLK_STS_AGAIN was never serviced (the
 * layer below would have had to wait, and REQ_NOWAIT forbade it; blk-iolatency
 * skips such bios for the same reason): its submitter sends it again
 * without REQ_NOWAIT, or device-mapper requeues it.  Take back what
 * dmp_stats_submit() counted and count a bounce instead.  The bounce is
 * usually completed synchronously, on the mapping CPU, before anything else
 * is mapped there: then this CPU's next[] still ends at this request, and
 * prev[] says where it stood before (dmp_stats_submit_rw()), so the retry
 * is as sequential as the request was.
 */
void dmp_stats_bounce(struct dmp_pcpu __percpu *pcpu, enum dmp_kind kind,
		      sector_t sector, unsigned int bytes)
{
	sector_t end = sector + (bytes >> SECTOR_SHIFT), prev;

	preempt_disable();
	this_cpu_inc(pcpu->c[DMP_BOUNCED_REQS]);
	switch (kind) {
	case DMP_KIND_READ:
	case DMP_KIND_WRITE:
		this_cpu_dec(pcpu->c[DMP_READ_REQS + kind]);
		this_cpu_sub(pcpu->c[DMP_READ_BYTES + kind], bytes);
		this_cpu_dec(pcpu->c[DMP_READ_SIZE_HIST +
				     kind * DMP_SIZE_BUCKETS +
				     dmp_size_bucket(bytes)]);
		if (this_cpu_read(pcpu->next[kind]) != end)
			break;
		prev = this_cpu_read(pcpu->prev[kind]);
		if (prev == sector)
			this_cpu_dec(pcpu->c[DMP_READ_SEQ + kind]);
		this_cpu_write(pcpu->next[kind], prev);
		break;
	case DMP_KIND_FLUSH:
		this_cpu_dec(pcpu->c[DMP_FLUSH_REQS]);
		break;
	case DMP_KIND_DISCARD:
		this_cpu_dec(pcpu->c[DMP_DISCARD_REQS]);
		this_cpu_sub(pcpu->c[DMP_DISCARD_BYTES], bytes);
		break;
	case DMP_KIND_ZONE_OPEN:
	case DMP_KIND_ZONE_CLOSE:
	case DMP_KIND_ZONE_FINISH:
	case DMP_KIND_ZONE_RESET:
		this_cpu_dec(pcpu->c[DMP_ZONE_OPEN_REQS + kind -
				     DMP_KIND_ZONE_OPEN]);
		break;
	case DMP_KIND_NONE:
		break;
	}
	preempt_enable();
}

void dmp_counts_add(struct dmp_counts *to, const struct dmp_counts *c)
{
	int i;

	for (i = 0; i < DMP_NR_COUNTERS; i++)
		to->c[i] += c->c[i];
	to->in_flight += c->in_flight;
}

/*
 * @to minus the baseline @base, with @base's epoch.  A request mapped
 * before a reset and bounced after it is taken back from the counts after
 * the reset: such a difference stays at 0 rather than wrap.
 */
void dmp_counts_since(struct dmp_counts *to, const struct dmp_counts *base)
{
	int i;

	for (i = 0; i < DMP_NR_COUNTERS; i++)
		to->c[i] = to->c[i] > base->c[i] ? to->c[i] - base->c[i] : 0;
	to->in_flight -= base->in_flight;
	to->epoch = base->epoch;
}

/*
 * Counts never go down within an epoch, as a reader must be able to rely on
 * (an interval is a difference; Prometheus takes a counter that went down
 * for a reset): each value shown is at least the highest shown before,
 * @shown.  Only a bounce lowers a sum (dmp_stats_bounce()), when it takes
 * back a request that a reader may have seen counted; its retry, counted
 * like any request, brings the sum back to what was shown.
 */
void dmp_counts_hold(struct dmp_counts *c, struct dmp_counts *shown)
{
	int i;

	for (i = 0; i < DMP_NR_COUNTERS; i++) {
		if (c->c[i] < shown->c[i])
			c->c[i] = shown->c[i];
		else
			shown->c[i] = c->c[i];
	}
}

/* Average request size in bytes, rounded down; 0 when there was none. */
static u64 dmp_avg(u64 bytes, u64 reqs)
{
	return reqs ? div64_u64(bytes, reqs) : 0;
}

/* A raw counter (enum dmp_counter) or a derived value (enum dmp_value). */
u64 dmp_counts_value(const struct dmp_counts *c, unsigned int v)
{
	u64 reqs = c->c[DMP_READ_REQS] + c->c[DMP_WRITE_REQS];
	u64 bytes = c->c[DMP_READ_BYTES] + c->c[DMP_WRITE_BYTES];

	switch (v) {
	case DMP_V_TOTAL_REQS:
		return reqs;
	case DMP_V_TOTAL_BYTES:
		return bytes;
	case DMP_V_READ_AVG_SIZE:
		return dmp_avg(c->c[DMP_READ_BYTES], c->c[DMP_READ_REQS]);
	case DMP_V_WRITE_AVG_SIZE:
		return dmp_avg(c->c[DMP_WRITE_BYTES], c->c[DMP_WRITE_REQS]);
	case DMP_V_TOTAL_AVG_SIZE:
		return dmp_avg(bytes, reqs);
	case DMP_V_IN_FLIGHT:
		/* per-CPU parts are summed unsynchronised: never show < 0 */
		return c->in_flight > 0 ? c->in_flight : 0;
	case DMP_V_RESETS:
		return c->epoch.resets;
	case DMP_V_CREATED_NS:
		return c->epoch.created_ns;
	case DMP_V_RESET_NS:
		return c->epoch.reset_ns;
	}
	return v < DMP_NR_COUNTERS ? c->c[v] : 0;
}

/* Counters first .. first + n - 1 on one line, space separated. */
int dmp_counts_format(const struct dmp_counts *c, unsigned int first,
		      unsigned int n, char *buf, size_t len)
{
	unsigned int i;
	int sz = 0;

	for (i = first; i < first + n; i++)
		sz += scnprintf(buf + sz, len - sz, "%s%llu",
				i > first ? " " : "", c->c[i]);
	return sz;
}

/*
 * The fields of the "stat" line of "dmsetup status" and of the sysfs file,
 * in this order.  New fields are only ever appended.
 */
static const u16 dmp_stat_fields[] = {
	DMP_READ_REQS, DMP_WRITE_REQS, DMP_READ_BYTES, DMP_WRITE_BYTES,
	DMP_FLUSH_REQS, DMP_DISCARD_REQS, DMP_DISCARD_BYTES,
	DMP_READ_ERRORS, DMP_WRITE_ERRORS, DMP_READ_SEQ, DMP_WRITE_SEQ,
	DMP_READ_LAT_NS, DMP_WRITE_LAT_NS, DMP_V_IN_FLIGHT,
	DMP_BOUNCED_REQS, DMP_ZONE_OPEN_REQS, DMP_ZONE_CLOSE_REQS,
	DMP_ZONE_FINISH_REQS, DMP_ZONE_RESET_REQS,
	DMP_V_RESETS, DMP_V_CREATED_NS, DMP_V_RESET_NS,
};

int dmp_counts_format_stat(const struct dmp_counts *c, char *buf, size_t len)
{
	unsigned int i;
	int sz = 0;

	for (i = 0; i < ARRAY_SIZE(dmp_stat_fields); i++)
		sz += scnprintf(buf + sz, len - sz, "%s%llu", i ? " " : "",
				dmp_counts_value(c, dmp_stat_fields[i]));
	return sz;
}
