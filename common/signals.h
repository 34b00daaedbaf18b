#pragma once

// Process-wide signal settings every Gantry binary makes first thing in
// main(), before any thread starts.

namespace gantry {

// A write to a socket or pipe whose reader has gone (a client that reset
// its connection mid-response, an exited child) must fail with EPIPE where
// it happens, not kill the process with SIGPIPE.
void IgnoreSigpipe();

}  // namespace gantry
