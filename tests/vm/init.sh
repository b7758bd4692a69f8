#!/bin/busybox sh
# /init of the guest: mount the basics, load the 9p drivers, mount the host's /usr and the job
# share read-only, mount ONLY cgroup2 at /sys/fs/cgroup, run the job, power off.
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
echo "LABKIT-VM: init on $(uname -r)"
while read -r m; do
  insmod "/modules/$m.ko" || echo "LABKIT-VM: insmod $m failed"
done < /modules/order
NINEP="trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose"
mount -t 9p -o "$NINEP" usr /usr || echo "LABKIT-VM: cannot mount the host's /usr"
mount -t 9p -o "$NINEP" job /job || echo "LABKIT-VM: cannot mount the job share"
mount -t cgroup2 cgroup2 /sys/fs/cgroup
echo "+memory +pids +cpu" > /sys/fs/cgroup/cgroup.subtree_control
echo "LABKIT-VM: cgroup2 at /sys/fs/cgroup, subtree_control: $(cat /sys/fs/cgroup/cgroup.subtree_control)"
NINEP="$NINEP" sh /job/run.sh
echo "LABKIT-VM: exit $?"
poweroff -f
