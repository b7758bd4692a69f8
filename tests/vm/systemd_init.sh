#!/bin/busybox sh
# /init of the systemd guest: the host's own root, read-only over 9p, under a tmpfs overlay, booted
# with systemd as PID 1 and only cgroup2 (what a stock Debian 12/13 or Ubuntu 22.04+ VM runs).
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "LABKIT-VM: init on $(uname -r)" > /dev/console
while read -r m; do insmod "/modules/$m.ko" || echo "LABKIT-VM: insmod $m failed" > /dev/console; done < /modules/order
NINEP="trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose"
mkdir -p /lower /rw /newroot
mount -t 9p -o "$NINEP" root /lower || echo "LABKIT-VM: cannot mount the host's root" > /dev/console
mount -t tmpfs -o mode=755 tmpfs /rw
mkdir -p /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work /newroot \
  || echo "LABKIT-VM: cannot mount the overlay" > /dev/console
# The host is a container (/.dockerenv): systemd would believe the guest is one too.
rm -f /newroot/.dockerenv /newroot/run/.containerenv
# Debian's tmpfiles.d/tmp.conf ("D /tmp") empties /tmp at boot, and with it any checkout the host keeps
# there (CI's clone may be one): in the guest /tmp is only created.
mkdir -p /newroot/etc/tmpfiles.d
echo "d /tmp 1777 root root -" > /newroot/etc/tmpfiles.d/tmp.conf
mkdir -p /newroot/job
mount -t 9p -o "$NINEP" job /newroot/job
cp /job-unit /newroot/etc/systemd/system/labkit-job.service
# The host's /proc, /sys and /run show through the 9p root: mount the guest's own first, or systemd
# takes them for mounted API filesystems and reads the host's /proc/cmdline and /run.
mount -t proc proc /newroot/proc
mount -t sysfs sysfs /newroot/sys
mount -t devtmpfs devtmpfs /newroot/dev
mount -t tmpfs -o mode=755,nosuid,nodev tmpfs /newroot/run
umount /sys /proc
exec switch_root /newroot /lib/systemd/systemd
