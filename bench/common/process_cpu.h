#ifndef PAT_BENCH_COMMON_PROCESS_CPU_H_
#define PAT_BENCH_COMMON_PROCESS_CPU_H_

#include <optional>

// What a benchmark reads about another process (the system under test).
//
// CPU time a process has used (user + system, /proc/PID/stat fields 14 and
// 15), in seconds, at clock-tick resolution; nullopt when it cannot be read.
namespace pat::bench {

std::optional<double> ProcessCpuSeconds(int pid);
// Its resident set (VmRSS of /proc/PID/status) in KiB; nullopt when it
// cannot be read.
std::optional<long long> ProcessRssKib(int pid);

}  // namespace pat::bench

#endif  // PAT_BENCH_COMMON_PROCESS_CPU_H_
