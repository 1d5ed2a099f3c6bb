#pragma once
// A cancel request shared by a job and whoever may stop it: the CLI's SIGINT handler, the UI's Stop button.
// The engine reads it between units of work (a prefill chunk, a decode step) and stops with
// ErrorCode::cancelled (or StopReason::cancelled in the generation loop); nullptr means "not cancellable".
// Setting it is async-signal-safe (a lock-free atomic store).
#include <atomic>

#include "util/status.h"

namespace docket {

using CancelFlag = std::atomic<bool>;
static_assert(CancelFlag::is_always_lock_free, "a signal handler sets it");

inline bool cancel_requested(const CancelFlag* c) {
    return c && c->load(std::memory_order_relaxed);
}

// The error a cancelled job returns: "prefill cancelled after 384 of 4096 tokens".
inline Status cancelled_error(const char* what, int64_t done, int64_t total) {
    return make_error(ErrorCode::cancelled, "{} cancelled after {} of {} tokens", what, done, total);
}

}  // namespace docket
