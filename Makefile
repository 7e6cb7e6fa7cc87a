# SPDX-License-Identifier: GPL-2.0
#
# dmp: device-mapper proxy with request statistics.
#
#   make              build dmp.ko for the running kernel (KDIR= overrides)
#   make check        the whole test suite in a throwaway QEMU guest
#   make demo         two dmp devices, a short fio job on each, the counters
#   make check-host   the same tests on this host's kernel (root, needs dm-mod)
#   make lint         checkpatch --strict, W=1 and sparse, all must be clean
#   make deps         install the Debian packages all of the above need
#
# check/demo take KERNEL=stock|debug|<version> (the guest kernel, default
# stock = Debian's linux-image-amd64) and T="<test> ..." (default: all).

KVER ?= $(shell uname -r)
# The running kernel's headers if it has them; otherwise those of the
# Debian kernel the test guest boots (this is also what a container without
# modules for its own kernel gets).
ifeq ($(origin KDIR),undefined)
KDIR := $(firstword $(wildcard /lib/modules/$(KVER)/build) \
	$(shell tests/kernel.sh stock 2>/dev/null | sed -n 's/^KDIR=//p'))
endif

KERNEL ?= stock
T ?=

.PHONY: all modules clean deps check check-host demo lint

all: modules

modules:
	@test -n "$(KDIR)" || { echo "No kernel headers for $(KVER): apt-get install linux-headers-$(KVER), or set KDIR="; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

clean:
	@if [ -n "$(KDIR)" ]; then $(MAKE) -C $(KDIR) M=$(CURDIR) clean; fi
	rm -rf build

deps:
	tests/install-deps build guest lint

check:
	tests/install-deps build guest
	tests/run --kernel $(KERNEL) $(T)

check-host: modules
	tests/check $(T)

demo:
	tests/install-deps build guest
	tests/run --kernel $(KERNEL) --cmd tests/demo

lint:
	tests/install-deps build lint
	tests/lint $(KDIR)
