/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dmp tracepoints: one record per request as it is mapped and as it
 * completes, with the task that submitted it (pid, comm): at completion the
 * record's own process is whoever completes the request, often an
 * interrupt.
 */
#ifndef _DMP_TRACE_REQ_H
#define _DMP_TRACE_REQ_H

#include <linux/blk_types.h>
#include <linux/sched.h>
#include <linux/types.h>

/* A request as the events record it, built only while an event is on. */
struct dmp_trace_req {
	dev_t dev;			/* the dmp device */
	sector_t sector;		/* on it (0 for an empty flush) */
	dev_t under;			/* the device below */
	sector_t under_sector;		/* there (0 for an empty flush) */
	unsigned int bytes;
	blk_opf_t opf;
	u64 lat_ns;			/* completion only */
	int error;			/* completion only: 0 or -errno */
	pid_t pid;			/* the submitter */
	const char *comm;		/* its name, TASK_COMM_LEN at most */
};

#endif /* _DMP_TRACE_REQ_H */

#undef TRACE_SYSTEM
#define TRACE_SYSTEM dmp

#if !defined(_DMP_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _DMP_TRACE_H

#include <linux/blktrace_api.h>
#include <linux/kdev_t.h>
#include <linux/tracepoint.h>

#define DMP_RWBS_LEN	8	/* as RWBS_LEN in trace/events/block.h */

DECLARE_EVENT_CLASS(dmp_request,
		    TP_PROTO(const struct dmp_trace_req *r),
		    TP_ARGS(r),
		    TP_STRUCT__entry(__field(dev_t, dev)
				     __field(sector_t, sector)
				     __field(dev_t, under)
				     __field(sector_t, under_sector)
				     __field(unsigned int, bytes)
				     __array(char, rwbs, DMP_RWBS_LEN)
				     __field(u64, lat_ns)
				     __field(int, error)
				     __field(pid_t, pid)
				     __array(char, comm, TASK_COMM_LEN)),
		    TP_fast_assign(__entry->dev = r->dev;
				   __entry->sector = r->sector;
				   __entry->under = r->under;
				   __entry->under_sector = r->under_sector;
				   __entry->bytes = r->bytes;
				   blk_fill_rwbs(__entry->rwbs, r->opf);
				   __entry->lat_ns = r->lat_ns;
				   __entry->error = r->error;
				   __entry->pid = r->pid;
				   strscpy(__entry->comm, r->comm, TASK_COMM_LEN);),
		    TP_printk("%d,%d %s %llu + %u bytes -> %d,%d %llu lat_ns=%llu error=%d pid=%d comm=%s",
			      MAJOR(__entry->dev), MINOR(__entry->dev),
			      __entry->rwbs,
			      (unsigned long long)__entry->sector,
			      __entry->bytes,
			      MAJOR(__entry->under), MINOR(__entry->under),
			      (unsigned long long)__entry->under_sector,
			      __entry->lat_ns, __entry->error, __entry->pid,
			      __entry->comm)
);

/* A request as dmp maps it (lat_ns and error are 0, and not printed). */
DEFINE_EVENT_PRINT(dmp_request, dmp_submit,
		   TP_PROTO(const struct dmp_trace_req *r),
		   TP_ARGS(r),
		   TP_printk("%d,%d %s %llu + %u bytes -> %d,%d %llu",
			     MAJOR(__entry->dev), MINOR(__entry->dev),
			     __entry->rwbs,
			     (unsigned long long)__entry->sector,
			     __entry->bytes,
			     MAJOR(__entry->under), MINOR(__entry->under),
			     (unsigned long long)__entry->under_sector)
);

/*
 * The same request when it completes, with its latency and errno (-EAGAIN
 * for a request that bounced unserviced, see dmp_stats_bounce()).
 * Enabling it makes map() record requests (dmp_trace_complete_reg(),
 * declared in dmp.h, is in dmp.c).
 */
DEFINE_EVENT_FN(dmp_request, dmp_complete,
		TP_PROTO(const struct dmp_trace_req *r),
		TP_ARGS(r),
		dmp_trace_complete_reg, NULL
);

#endif /* _DMP_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE dmp_trace
#include <trace/define_trace.h>
