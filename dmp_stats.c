// SPDX-License-Identifier: GPL-2.0
/*
 * dmp request counters: summing, baselines and formatting.  Everything here
 * runs when the counters are read or reset, never on the I/O path.
 */
#include <linux/math64.h>
#include <linux/kernel.h>

#include "dmp_stats.h"

int dmp_stats_init(struct dmp_stats *s)
{
	s->pcpu = alloc_percpu(struct dmp_counts);
	if (!s->pcpu)
		return -ENOMEM;
	memset(&s->base, 0, sizeof(s->base));
	spin_lock_init(&s->base_lock);
	return 0;
}

void dmp_stats_exit(struct dmp_stats *s)
{
	free_percpu(s->pcpu);
	s->pcpu = NULL;
}

/*
 * Sum over every possible CPU, not just the online ones: a CPU that went
 * offline keeps the counts it made.  Each value is read once, so the sum is
 * exact for all I/O that was counted before the read began.
 */
void dmp_stats_sum(const struct dmp_stats *s, struct dmp_counts *raw)
{
	int cpu, i;

	memset(raw, 0, sizeof(*raw));
	for_each_possible_cpu(cpu) {
		const struct dmp_counts *p = per_cpu_ptr(s->pcpu, cpu);

		for (i = 0; i < DMP_NR_COUNTERS; i++)
			raw->c[i] += READ_ONCE(p->c[i]);
	}
}

/*
 * The counts since the last reset.  Summing under the lock orders this read
 * after or before any reset, so the monotonic sum never drops below @base.
 */
void dmp_stats_read(struct dmp_stats *s, struct dmp_counts *out)
{
	spin_lock(&s->base_lock);
	dmp_stats_sum(s, out);
	dmp_counts_sub(out, &s->base);
	spin_unlock(&s->base_lock);
}

void dmp_stats_reset(struct dmp_stats *s)
{
	spin_lock(&s->base_lock);
	dmp_stats_sum(s, &s->base);
	spin_unlock(&s->base_lock);
}

void dmp_counts_add(struct dmp_counts *to, const struct dmp_counts *c)
{
	int i;

	for (i = 0; i < DMP_NR_COUNTERS; i++)
		to->c[i] += c->c[i];
}

void dmp_counts_sub(struct dmp_counts *to, const struct dmp_counts *c)
{
	int i;

	for (i = 0; i < DMP_NR_COUNTERS; i++)
		to->c[i] -= c->c[i];
}

/* Average request size in bytes, rounded down; 0 when there was none. */
static u64 dmp_avg(u64 bytes, u64 reqs)
{
	return reqs ? div64_u64(bytes, reqs) : 0;
}

u64 dmp_counts_value(const struct dmp_counts *c, enum dmp_value v)
{
	u64 reqs = c->c[DMP_READ_REQS] + c->c[DMP_WRITE_REQS];
	u64 bytes = c->c[DMP_READ_BYTES] + c->c[DMP_WRITE_BYTES];

	switch (v) {
	case DMP_V_READ_REQS:
		return c->c[DMP_READ_REQS];
	case DMP_V_WRITE_REQS:
		return c->c[DMP_WRITE_REQS];
	case DMP_V_TOTAL_REQS:
		return reqs;
	case DMP_V_READ_BYTES:
		return c->c[DMP_READ_BYTES];
	case DMP_V_WRITE_BYTES:
		return c->c[DMP_WRITE_BYTES];
	case DMP_V_TOTAL_BYTES:
		return bytes;
	case DMP_V_READ_AVG_SIZE:
		return dmp_avg(c->c[DMP_READ_BYTES], c->c[DMP_READ_REQS]);
	case DMP_V_WRITE_AVG_SIZE:
		return dmp_avg(c->c[DMP_WRITE_BYTES], c->c[DMP_WRITE_REQS]);
	case DMP_V_TOTAL_AVG_SIZE:
		return dmp_avg(bytes, reqs);
	case DMP_V_FLUSH_REQS:
		return c->c[DMP_FLUSH_REQS];
	case DMP_V_DISCARD_REQS:
		return c->c[DMP_DISCARD_REQS];
	case DMP_V_DISCARD_BYTES:
		return c->c[DMP_DISCARD_BYTES];
	}
	return 0;
}

/*
 * The raw counters on one line, space separated, in enum dmp_counter order.
 * This is the format of "dmsetup status" and of the "stat" sysfs file.
 */
int dmp_counts_format(const struct dmp_counts *c, char *buf, size_t len)
{
	int i, n = 0;

	for (i = 0; i < DMP_NR_COUNTERS; i++)
		n += scnprintf(buf + n, len - n, "%s%llu", i ? " " : "", c->c[i]);
	return n;
}
