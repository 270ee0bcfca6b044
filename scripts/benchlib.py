"""Shared by scripts/bench and scripts/bench-scale: processes started and stopped by PID, redis-cli,
waiting for a condition, a process's CPU time."""
import os
import signal
import subprocess
import sys
import time

HZ = os.sysconf("SC_CLK_TCK")
procs = []


def start(args, log):
    p = subprocess.Popen(args, stdout=log, stderr=log)
    procs.append(p)
    return p


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(20)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    procs.remove(p)


def stop_all():
    for p in list(procs):
        stop(p)


def cli(port, *args):
    return subprocess.run(["redis-cli", "-p", str(port)] + list(args), capture_output=True, text=True).stdout


def wait_for(pred, what, secs=30):
    end = time.time() + secs
    while time.time() < end:
        if pred():
            return
        time.sleep(0.1)
    sys.exit("bench: %s did not happen" % what)


def cpu_times(pid):
    """(user, sys) CPU seconds of a process, from /proc/PID/stat."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / HZ, int(fields[12]) / HZ


def cpu_seconds(pid):
    """CPU seconds a process has run, all its threads: the scheduler's own count in nanoseconds
    (/proc/PID/task/TID/schedstat), not /proc/PID/stat's 10 ms ticks, which at 0.6 us a request are
    too coarse (one tick in 200,000 requests is 0.05 us) to tell two builds a few percent apart.
    Threads that ended are not counted: the proxies and redis-servers keep theirs for their life."""
    total = 0
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                    total += int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass
    except OSError:
        return sum(cpu_times(pid))
    return total / 1e9 if total else sum(cpu_times(pid))
