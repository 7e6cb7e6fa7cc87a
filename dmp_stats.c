// SPDX-License-Identifier: GPL-2.0
/*
 * dmp request counters: summing, baselines and formatting.  Everything here
 * runs when the counters are read or reset, never on the I/O path.
 */
#include <linux/kernel.h>

#include "dmp_stats.h"

int dmp_stats_init(struct dmp_stats *s)
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
 * offline keeps the counts it made, and a request may complete on another
 * CPU than the one that mapped it.  Each value is read once, so the sum is
 * exact for all I/O that was counted before the read began.
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
	s->base.in_flight = 0;		/* a gauge: never reset */
	spin_unlock(&s->base_lock);
}

void dmp_counts_add(struct dmp_counts *to, const struct dmp_counts *c)
{
	int i;

	for (i = 0; i < DMP_NR_COUNTERS; i++)
		to->c[i] += c->c[i];
	to->in_flight += c->in_flight;
}

void dmp_counts_sub(struct dmp_counts *to, const struct dmp_counts *c)
{
	int i;

	for (i = 0; i < DMP_NR_COUNTERS; i++)
		to->c[i] -= c->c[i];
	to->in_flight -= c->in_flight;
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
 * The "stat" line of "dmsetup status" and of the sysfs file: the counters
 * before the histograms, in enum dmp_counter order, then in_flight.
 */
int dmp_counts_format_stat(const struct dmp_counts *c, char *buf, size_t len)
{
	int sz = dmp_counts_format(c, 0, DMP_NR_STAT, buf, len);

	return sz + scnprintf(buf + sz, len - sz, " %llu",
			      dmp_counts_value(c, DMP_V_IN_FLIGHT));
}
