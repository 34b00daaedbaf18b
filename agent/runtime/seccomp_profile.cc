#include "agent/runtime/seccomp_profile.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>

namespace gantry::agent {

using nlohmann::json;

namespace {

// The calls ordinary programs make: files, memory, signals, time, sockets,
// processes and threads, polling, ids. runc skips names its libseccomp does
// not know (a call this kernel or architecture lacks), so one list serves
// every architecture. Left out on purpose: io_uring (a large attack surface
// that bypasses this filter's view of calls), keyctl and add_key (the
// kernel keyring is not namespaced), userfaultfd, and everything below that
// needs a capability.
const std::vector<std::string>& OrdinaryCalls() {
  static const std::vector<std::string> calls = {
      // Files and directories.
      "access",
      "chdir",
      "chmod",
      "chown",
      "chown32",
      "close",
      "close_range",
      "copy_file_range",
      "creat",
      "dup",
      "dup2",
      "dup3",
      "faccessat",
      "faccessat2",
      "fadvise64",
      "fadvise64_64",
      "fallocate",
      "fchdir",
      "fchmod",
      "fchmodat",
      "fchmodat2",
      "fchown",
      "fchown32",
      "fchownat",
      "fcntl",
      "fcntl64",
      "fdatasync",
      "fgetxattr",
      "flistxattr",
      "flock",
      "fremovexattr",
      "fsetxattr",
      "fstat",
      "fstat64",
      "fstatat64",
      "fstatfs",
      "fstatfs64",
      "fsync",
      "ftruncate",
      "ftruncate64",
      "futimesat",
      "getcwd",
      "getdents",
      "getdents64",
      "getxattr",
      "inotify_add_watch",
      "inotify_init",
      "inotify_init1",
      "inotify_rm_watch",
      "lchown",
      "lchown32",
      "lgetxattr",
      "link",
      "linkat",
      "listxattr",
      "llistxattr",
      "lremovexattr",
      "lseek",
      "lsetxattr",
      "lstat",
      "lstat64",
      "_llseek",
      "mkdir",
      "mkdirat",
      "mknod",
      "mknodat",
      "newfstatat",
      "open",
      "openat",
      "openat2",
      "pread64",
      "preadv",
      "preadv2",
      "pwrite64",
      "pwritev",
      "pwritev2",
      "read",
      "readahead",
      "readlink",
      "readlinkat",
      "readv",
      "removexattr",
      "rename",
      "renameat",
      "renameat2",
      "rmdir",
      "sendfile",
      "sendfile64",
      "setxattr",
      "splice",
      "stat",
      "stat64",
      "statfs",
      "statfs64",
      "statx",
      "symlink",
      "symlinkat",
      "sync",
      "sync_file_range",
      "syncfs",
      "tee",
      "truncate",
      "truncate64",
      "umask",
      "unlink",
      "unlinkat",
      "utime",
      "utimensat",
      "utimensat_time64",
      "utimes",
      "vmsplice",
      "write",
      "writev",
      "memfd_create",
      "fanotify_mark",
      // Memory.
      "brk",
      "madvise",
      "membarrier",
      "mincore",
      "mlock",
      "mlock2",
      "mlockall",
      "mmap",
      "mmap2",
      "mprotect",
      "mremap",
      "msync",
      "munlock",
      "munlockall",
      "munmap",
      "pkey_alloc",
      "pkey_free",
      "pkey_mprotect",
      "remap_file_pages",
      // Signals.
      "kill",
      "pause",
      "rt_sigaction",
      "rt_sigpending",
      "rt_sigprocmask",
      "rt_sigqueueinfo",
      "rt_sigreturn",
      "rt_sigsuspend",
      "rt_sigtimedwait",
      "rt_sigtimedwait_time64",
      "rt_tgsigqueueinfo",
      "sigaction",
      "sigaltstack",
      "signal",
      "signalfd",
      "signalfd4",
      "sigpending",
      "sigprocmask",
      "sigreturn",
      "sigsuspend",
      "tgkill",
      "tkill",
      "pidfd_open",
      "pidfd_send_signal",
      // Time and timers.
      "alarm",
      "clock_getres",
      "clock_getres_time64",
      "clock_gettime",
      "clock_gettime64",
      "clock_nanosleep",
      "clock_nanosleep_time64",
      "getitimer",
      "gettimeofday",
      "nanosleep",
      "setitimer",
      "time",
      "timer_create",
      "timer_delete",
      "timer_getoverrun",
      "timer_gettime",
      "timer_gettime64",
      "timer_settime",
      "timer_settime64",
      "timerfd_create",
      "timerfd_gettime",
      "timerfd_gettime64",
      "timerfd_settime",
      "timerfd_settime64",
      "times",
      // Polling and events.
      "epoll_create",
      "epoll_create1",
      "epoll_ctl",
      "epoll_ctl_old",
      "epoll_pwait",
      "epoll_pwait2",
      "epoll_wait",
      "epoll_wait_old",
      "eventfd",
      "eventfd2",
      "poll",
      "ppoll",
      "ppoll_time64",
      "pselect6",
      "pselect6_time64",
      "select",
      "_newselect",
      "futex",
      "futex_time64",
      "futex_waitv",
      "get_robust_list",
      "set_robust_list",
      // Sockets and IPC.
      "accept",
      "accept4",
      "bind",
      "connect",
      "getpeername",
      "getsockname",
      "getsockopt",
      "listen",
      "recv",
      "recvfrom",
      "recvmmsg",
      "recvmmsg_time64",
      "recvmsg",
      "send",
      "sendmmsg",
      "sendmsg",
      "sendto",
      "setsockopt",
      "shutdown",
      "socket",
      "socketcall",
      "socketpair",
      "ipc",
      "mq_getsetattr",
      "mq_notify",
      "mq_open",
      "mq_timedreceive",
      "mq_timedreceive_time64",
      "mq_timedsend",
      "mq_timedsend_time64",
      "mq_unlink",
      "msgctl",
      "msgget",
      "msgrcv",
      "msgsnd",
      "semctl",
      "semget",
      "semop",
      "semtimedop",
      "semtimedop_time64",
      "shmat",
      "shmctl",
      "shmdt",
      "shmget",
      "pipe",
      "pipe2",
      "ioctl",
      // Processes, threads, scheduling, ids and limits.
      "arch_prctl",
      "capget",
      "capset",
      "execve",
      "execveat",
      "exit",
      "exit_group",
      "fork",
      "get_thread_area",
      "getcpu",
      "getegid",
      "getegid32",
      "geteuid",
      "geteuid32",
      "getgid",
      "getgid32",
      "getgroups",
      "getgroups32",
      "getpgid",
      "getpgrp",
      "getpid",
      "getppid",
      "getpriority",
      "getrandom",
      "getresgid",
      "getresgid32",
      "getresuid",
      "getresuid32",
      "getrlimit",
      "getrusage",
      "getsid",
      "gettid",
      "getuid",
      "getuid32",
      "ioprio_get",
      "ioprio_set",
      "prctl",
      "prlimit64",
      "ptrace",
      "process_vm_readv",
      "process_vm_writev",
      "restart_syscall",
      "rseq",
      "sched_get_priority_max",
      "sched_get_priority_min",
      "sched_getaffinity",
      "sched_getattr",
      "sched_getparam",
      "sched_getscheduler",
      "sched_rr_get_interval",
      "sched_rr_get_interval_time64",
      "sched_setaffinity",
      "sched_setattr",
      "sched_setparam",
      "sched_setscheduler",
      "sched_yield",
      "set_thread_area",
      "set_tid_address",
      "setfsgid",
      "setfsgid32",
      "setfsuid",
      "setfsuid32",
      "setgid",
      "setgid32",
      "setgroups",
      "setgroups32",
      "setpgid",
      "setpriority",
      "setregid",
      "setregid32",
      "setresgid",
      "setresgid32",
      "setresuid",
      "setresuid32",
      "setreuid",
      "setreuid32",
      "setrlimit",
      "setsid",
      "setuid",
      "setuid32",
      "ugetrlimit",
      "uname",
      "vfork",
      "wait4",
      "waitid",
      "waitpid",
      "sysinfo",
      "landlock_add_rule",
      "landlock_create_ruleset",
      "landlock_restrict_self",
      "seccomp",
      "riscv_flush_icache",
      "cacheflush",
      "breakpoint",
      "set_tls",
      "sync_file_range2",
      "arm_fadvise64_64",
      "arm_sync_file_range",
  };
  return calls;
}

// Calls allowed only to a container that holds the capability they need.
struct Gated {
  const char* capability;
  std::vector<std::string> calls;
};

const std::vector<Gated>& GatedCalls() {
  static const std::vector<Gated> gated = {
      {"CAP_SYS_ADMIN",
       {"bpf",
        "fanotify_init",
        "fsconfig",
        "fsmount",
        "fsopen",
        "fspick",
        "lookup_dcookie",
        "mount",
        "mount_setattr",
        "move_mount",
        "name_to_handle_at",
        "open_tree",
        "perf_event_open",
        "quotactl",
        "quotactl_fd",
        "setdomainname",
        "sethostname",
        "setns",
        "syslog",
        "umount",
        "umount2",
        "unshare"}},
      {"CAP_SYS_BOOT", {"reboot"}},
      {"CAP_SYS_CHROOT", {"chroot"}},
      {"CAP_SYS_MODULE", {"delete_module", "finit_module", "init_module"}},
      {"CAP_SYS_PACCT", {"acct"}},
      {"CAP_SYS_PTRACE", {"kcmp", "pidfd_getfd", "process_madvise"}},
      {"CAP_SYS_RAWIO", {"iopl", "ioperm"}},
      {"CAP_SYS_TIME",
       {"adjtimex", "clock_adjtime", "clock_adjtime64", "clock_settime", "clock_settime64",
        "settimeofday", "stime"}},
      {"CAP_SYS_TTY_CONFIG", {"vhangup"}},
      {"CAP_SYS_NICE", {"get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"}},
      {"CAP_SYSLOG", {"syslog"}},
      {"CAP_BPF", {"bpf"}},
      {"CAP_PERFMON", {"perf_event_open"}},
      {"CAP_DAC_READ_SEARCH", {"open_by_handle_at"}},
  };
  return gated;
}

// The clone flags that create namespaces (CLONE_NEWNS, NEWCGROUP, NEWUTS,
// NEWIPC, NEWUSER, NEWPID, NEWNET): clone is allowed only with none set.
constexpr uint64_t kNamespaceFlags = 0x7E020000;

// The personalities ordinary programs ask for: the default, 32-bit address
// space (ADDR32/legacy layout), UNAME26, both, and the query.
constexpr uint64_t kPersonalities[] = {0x0, 0x8, 0x20000, 0x20008, 0xffffffff};

json Allow(std::vector<std::string> names) {
  return json{{"names", std::move(names)}, {"action", "SCMP_ACT_ALLOW"}};
}

json Arg(unsigned index, uint64_t value, uint64_t value_two, const char* op) {
  return json{{"index", index}, {"value", value}, {"valueTwo", value_two}, {"op", op}};
}

std::vector<std::string> Architectures() {
#if defined(__x86_64__)
  return {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
#elif defined(__aarch64__)
  return {"SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"};
#else
  return {};  // runc then uses the native architecture only
#endif
}

}  // namespace

json DefaultSeccompProfile(const std::vector<std::string>& capabilities) {
  auto has = [&](const char* cap) {
    return std::find(capabilities.begin(), capabilities.end(), cap) != capabilities.end();
  };
  json syscalls = json::array();
  syscalls.push_back(Allow(OrdinaryCalls()));
  for (uint64_t p : kPersonalities) {
    json rule = Allow({"personality"});
    rule["args"] = json::array({Arg(0, p, 0, "SCMP_CMP_EQ")});
    syscalls.push_back(std::move(rule));
  }
  if (has("CAP_SYS_ADMIN")) {
    syscalls.push_back(Allow({"clone", "clone3"}));
  } else {
    json clone = Allow({"clone"});
    // On s390x the flags are the second argument; everywhere Gantry runs
    // (amd64, arm64) they are the first.
    clone["args"] = json::array({Arg(0, kNamespaceFlags, 0, "SCMP_CMP_MASKED_EQ")});
    syscalls.push_back(std::move(clone));
    // clone3 passes its flags in memory a filter cannot read: answer
    // ENOSYS so the C library falls back to clone.
    syscalls.push_back(
        json{{"names", {"clone3"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", ENOSYS}});
  }
  std::vector<std::string> granted;
  for (const Gated& g : GatedCalls()) {
    if (!has(g.capability)) continue;
    for (const std::string& c : g.calls) {
      if (std::find(granted.begin(), granted.end(), c) == granted.end()) granted.push_back(c);
    }
  }
  if (!granted.empty()) syscalls.push_back(Allow(std::move(granted)));
  return json{
      {"defaultAction", "SCMP_ACT_ERRNO"},
      {"defaultErrnoRet", EPERM},
      {"architectures", Architectures()},
      {"syscalls", std::move(syscalls)},
  };
}

}  // namespace gantry::agent
