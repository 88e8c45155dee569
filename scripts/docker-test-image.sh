#!/usr/bin/env bash
# Build the image the docker executor's tests run in, without any registry: a root holding
# Debian's static busybox (package busybox-static) and its applets, imported as one layer.
# Idempotent: does nothing when the image already exists.
set -euo pipefail
IMAGE="${SOLVYD_TEST_IMAGE:-solvyd-test/busybox:latest}"

if docker image inspect "$IMAGE" > /dev/null 2>&1; then
  exit 0
fi
# busybox-static installs /bin/busybox; a dynamic busybox would not run in the empty root.
BUSYBOX=/bin/busybox
if [[ ! -x "$BUSYBOX" ]]; then
  echo "docker-test-image: no $BUSYBOX (apt-get install busybox-static)" >&2
  exit 1
fi

root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/bin "$root"/tmp "$root"/workspace "$root"/etc
cp "$BUSYBOX" "$root/bin/busybox"
chmod 1777 "$root/tmp"
# Symlinks for every applet (sh, echo, cat, sleep, ls, env, ...), made by busybox itself.
chroot "$root" /bin/busybox --install -s /bin 2>/dev/null || {
  for applet in $("$root/bin/busybox" --list); do
    [[ -e "$root/bin/$applet" ]] || ln -s busybox "$root/bin/$applet"
  done
}
echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"
echo 'root:x:0:' > "$root/etc/group"
tar -C "$root" -c . | docker import \
  --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin' \
  --change 'CMD ["/bin/sh"]' - "$IMAGE" > /dev/null
echo "docker-test-image: built $IMAGE"
