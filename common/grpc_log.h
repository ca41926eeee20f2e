#ifndef PAT_COMMON_GRPC_LOG_H_
#define PAT_COMMON_GRPC_LOG_H_

// Routes gRPC core's own log lines (gpr_log) into the process's JSON log on
// stderr: {"level":"error","msg":"grpc","grpc_message":"...","file":"...",
// "line":N}. Call once at start, before any channel or server exists.
namespace pat {

// JSON lines on stderr (the daemons).
void RouteGrpcLogsToJson();
// Drops gRPC core's lines (patctl, which turns failures into its own
// one-line errors); GRPC_VERBOSITY=debug or info keeps them as JSON.
void SilenceGrpcLogs();

}  // namespace pat

#endif  // PAT_COMMON_GRPC_LOG_H_
