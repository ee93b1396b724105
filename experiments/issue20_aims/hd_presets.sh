cd /tmp
for p in ultrafast veryfast medium; do
  /usr/bin/time -f "$p encode %e s %M KB" /work/venv/bin/vqv encode /work/s32/hd/hd96.npy /tmp/hd_$p.vqv --size native --preset $p -f -q >> /work/s32/hd_presets2.log 2>&1
  /usr/bin/time -f "$p decode %e s %M KB" /work/venv/bin/vqv decode /tmp/hd_$p.vqv /tmp/hd_$p.npy -f -q >> /work/s32/hd_presets2.log 2>&1
  ls -l /tmp/hd_$p.vqv >> /work/s32/hd_presets2.log
done
echo done >> /work/s32/hd_presets2.log
