/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dmp: what the target (dmp.c) and the sysfs tree (dmp_sysfs.c) share.
 */
#ifndef DMP_H
#define DMP_H

#include <linux/device-mapper.h>
#include <linux/kobject.h>
#include <linux/list.h>

#include "dmp_stats.h"

/*
 * One per mapped device that has at least one dmp target in a live or
 * inactive table.  Reloads create new targets but keep this object, so the
 * counters belong to the device, not to a table.  Freed by the last
 * target's dtr, once its directory is gone and no sysfs reader is left in
 * it (kobject_del() waits for them); the directory's kobject is the
 * kernel's own and does not point here (see dmp_sysfs.c).
 */
struct dmp_device {
	struct kobject *kobj;		/* stat/<major>:<minor> */
	dev_t devt;
	struct dmp_stats stats;
	struct list_head list;		/* on the list of all dmp devices */
	struct mapped_device *md;	/* valid while @refs > 0 */
	unsigned int refs;		/* dmp targets of this device */
	struct dm_table *flush_table;	/* see dmp_device_get() */
	char name[DM_NAME_LEN];		/* dm name at the last resume */
	bool linked;			/* stat/<name> points to @kobj */
	bool latency;			/* time requests (read locklessly) */
	u64 lat_tag;			/* of timed requests' records (dmp.c) */
};

extern bool dmp_latency_default;

struct dmp_device *dmp_device_get(struct dm_target *ti, bool *count_flush);
void dmp_device_put(struct dmp_device *dd, struct dm_target *ti);
void dmp_device_refresh_name(struct dmp_device *dd);
void dmp_device_set_latency(struct dmp_device *dd, bool on);

/* The regfunc of the dmp_complete trace event (dmp_trace.h). */
int dmp_trace_complete_reg(void);

int dmp_sysfs_init(void);
void dmp_sysfs_exit(void);

#endif /* DMP_H */
