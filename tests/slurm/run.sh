#!/usr/bin/env bash
# A real Slurm cluster for the sharded `persona run`: installs Debian's slurm-wlm and munge when
# missing, starts munged, slurmctld and slurmd for one node on this machine (ports, sockets and
# state in a temporary folder, so nothing of the system's own setup is used or changed), submits
# the README's array job unchanged, waits for it, merges the shards and compares the run with one
# unsharded run of the same options, file for file. Stops the daemons on every exit.
#
# Usage: tests/slurm/run.sh [PERSONA_BINARY]   (default: the built src/Persona.Cli binary; built if absent)
# Exit 0 when the merged run is byte-identical to the single run (the study database aside: it
# holds fresh secret rater keys by design), non-zero otherwise. Needs root (apt-get, SlurmUser=root).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
readme="$repo/README.md"
timeout_s=${SLURM_TEST_TIMEOUT:-600}
t0=$(date +%s)
say() { printf '[slurm-test %3ss] %s\n' "$(( $(date +%s) - t0 ))" "$*"; }

if [ "$(id -u)" -ne 0 ]; then echo "tests/slurm/run.sh needs root (it installs packages and runs slurmd as root)." >&2; exit 2; fi
missing=()
for c in slurmctld slurmd sbatch squeue scontrol; do command -v "$c" >/dev/null || { missing+=(slurm-wlm); break; }; done
command -v munged >/dev/null || missing+=(munge)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >/dev/null 2>&1 \
    || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >/dev/null; }
fi

bin=${1:-}
if [ -z "$bin" ]; then
  bin=$(ls -t "$repo"/src/Persona.Cli/bin/*/net*/persona 2>/dev/null | head -n 1 || true)
  if [ -z "$bin" ]; then say "building persona"; dotnet build "$repo/src/Persona.Cli" -v q >/dev/null; bin=$(ls -t "$repo"/src/Persona.Cli/bin/*/net*/persona | head -n 1); fi
fi
[ -x "$bin" ] || { echo "no persona binary at '$bin'" >&2; exit 2; }

work=$(mktemp -d /tmp/persona-slurm.XXXXXX)
export SLURM_CONF="$work/etc/slurm.conf"
cleanup() {
  local rc=$?
  # Only the daemons this script started, by their pid files.
  scontrol shutdown >/dev/null 2>&1 || true
  for p in "$work/run/slurmctld.pid" "$work/run/slurmd.pid" "$work/munge/munged.pid"; do
    [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null || true
  done
  sleep 1
  if [ "$rc" -ne 0 ]; then
    for f in "$work"/log/*.log "$work"/jobs/slurm-*.out; do [ -f "$f" ] && { echo "--- $f"; tail -n 30 "$f"; }; done >&2
  fi
  [ -n "${KEEP_SLURM_TEST:-}" ] || rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT INT TERM

mkdir -p "$work"/{etc,munge,state,spool,run,log,jobs,bin}
chmod 700 "$work/munge"
head -c 1024 /dev/urandom > "$work/munge/munge.key"; chmod 600 "$work/munge/munge.key"
munged --key-file="$work/munge/munge.key" --socket="$work/munge/munge.socket" --pid-file="$work/munge/munged.pid" \
  --log-file="$work/log/munged.log" --seed-file="$work/munge/seed" --force
host=$(hostname -s)
# Ports of our own: a Slurm already on this machine (6817/6818) is left alone.
port=$(( 20000 + RANDOM % 20000 ))
cat > "$SLURM_CONF" <<CONF
ClusterName=personaci
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
AuthInfo=socket=$work/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/run/slurmctld.pid
SlurmdPidFile=$work/run/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
ReturnToService=2
MpiDefault=none
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
NodeName=$host CPUs=2 State=UNKNOWN
PartitionName=ci Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
slurmctld -c -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for _ in $(seq 1 50); do sinfo -h -o %t 2>/dev/null | grep -q idle && break; sleep 0.2; done
sinfo -h -o %t | grep -q idle || { echo "slurmd did not come up" >&2; exit 1; }
say "cluster up: $(sinfo -h -o '%P %D node(s) %c CPUs %t')"

# The README's recipe, unchanged: the shared step, the array job script and the merge, each the
# block after its marker. `persona` is the built binary, on PATH (sbatch passes PATH to the tasks).
block() { awk -v m="<!-- $1 -->" '$0==m{f=1;next} f&&/^```/{if(++n==2)exit;next} f&&n==1' "$readme"; }
shared_cmd=$(block slurm-shared); job=$(block slurm-array); merge_cmd=$(block slurm-merge)
[ -n "$shared_cmd" ] && [ -n "$job" ] && [ -n "$merge_cmd" ] || { echo "README.md lacks the slurm-shared / slurm-array / slurm-merge blocks" >&2; exit 1; }
ln -s "$bin" "$work/bin/persona"
# SOURCE_DATE_EPOCH (exported to the array job with the rest of this environment, sbatch's default) fixes the
# one timestamp a run writes into its outputs, the Every Eval Ever aggregate's, so that file is compared too.
export PATH="$work/bin:$PATH" NO_COLOR=1 TERM=dumb SOURCE_DATE_EPOCH=1700000000
cd "$work/jobs"
printf '%s\n' "$job" > shards.sh

# The single run to compare with, beside the cluster's work: the same options as the README's
# shards, taken from the array job's persona line (minus the shard's own --shared and --out).
single_opts=$(printf '%s\n' "$job" | grep '^persona run' | sed -E 's/^persona run//; s/--shared [^ ]+//; s/--out [^ ]+//')
say "single run: persona run$single_opts --out single"
( persona run $single_opts --out single > single.log 2>&1; echo $? > single.rc ) &
single_pid=$!

say "shared step: $shared_cmd"
bash -ec "$shared_cmd" > shared.log 2>&1
jobid=$(sbatch --parsable shards.sh)
say "submitted array job $jobid: $(grep -E '^#SBATCH' shards.sh | tr '\n' ' ')"
while squeue -h -j "$jobid" 2>/dev/null | grep -q .; do
  [ $(( $(date +%s) - t0 )) -lt "$timeout_s" ] || { echo "array job $jobid still running after ${timeout_s}s" >&2; squeue >&2; exit 1; }
  sleep 1
done
tasks=$(ls -d shard-*/ 2>/dev/null | wc -l)
say "array job done: $tasks shard folders"
for d in shard-*/; do grep -q '"status": "completed"' "$d/shard.json" || { echo "$d did not complete" >&2; cat slurm-*.out >&2; exit 1; }; done
say "merge: $merge_cmd"
bash -ec "$merge_cmd" > merge.log 2>&1
wait "$single_pid"; [ "$(cat single.rc)" = 0 ] || { tail -n 20 single.log >&2; exit 1; }

say "comparing every file of the merged run with the single run"
python3 - single run <<'PY'
import hashlib, json, os, sys
a, b = sys.argv[1], sys.argv[2]
def files(root):
    out = {}
    for d, _, fs in os.walk(root):
        for f in fs:
            rel = os.path.relpath(os.path.join(d, f), root)
            # The LM store and the history of invocations (invocations.jsonl: when, where, what each paid) are the only
            # files not compared; manifest.json and manifest.sha256 are, byte for byte.
            if f.startswith('store.sqlite') or rel == 'invocations.jsonl':
                continue
            out[rel] = hashlib.sha256(open(os.path.join(d, f), 'rb').read()).hexdigest()
    return out
fa, fb = files(a), files(b)
study = 'study/study.sqlite'  # fresh secret rater keys by design, in any two runs
fresh = lambda k: k == study
same = [k for k in fa if k in fb and fa[k] == fb[k]]
differ = [k for k in fa if k in fb and fa[k] != fb[k] and not fresh(k)]
only = sorted(set(fa) ^ set(fb))
print(f"files: {len(fa)} in the single run, {len(fb)} in the merged run; byte-identical: {len(same)}; "
      f"differing: {len(differ)} {differ[:10]}; in one only: {only[:10]}; study database aside: {study in fa}")
manifest_same = fa.get('manifest.json') is not None and fa.get('manifest.json') == fb.get('manifest.json')
print(f"manifest.json: {'byte-identical' if manifest_same else 'DIFFERS'} (sha256 {fa.get('manifest.json')} vs {fb.get('manifest.json')})")
merge = [json.loads(l) for l in open(os.path.join(b, 'invocations.jsonl')) if l.strip()][-1]
print(f"the merge's invocations.jsonl line: kind {merge.get('kind')}, shards {[s['index'] for s in merge.get('shards', [])]}, "
      f"paid calls {merge['this_invocation']['paid_calls_started']}")
sys.exit(1 if differ or only or not manifest_same or merge.get('kind') != 'merge' else 0)
PY
say "PASS: the Slurm-sharded run is the single run, byte for byte"
