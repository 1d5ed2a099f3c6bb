#pragma once
// The runtime session: one sequence's KV and the model's forward pass over it, on whichever backend runs it.
// Every caller above the runtime (ingest, composition, asking, generate / logits) holds a Session and never
// learns which backend that is; the backend is picked once, when the SessionFactory opens (open_backend).
//
// Rows and positions: a session holds size() rows of KV, row i at position positions()[i]. eval() appends one
// row per token; import (append_rows + write_rows) appends rows whose pre-RoPE K and V come from elsewhere
// (a stored snapshot, another session), export (read_rows) copies rows out. K is kept BEFORE RoPE, as the
// store's snapshots hold it, so a segment computed at 0..n-1 can be placed at any offset.
//
// Backends differ in one point: the CPU session accepts any positions (KvCache); the CUDA session runs and
// places rows only at the positions that follow its rows (row i at position i), which is how composition
// lays a context out ([prefix][segment A][segment B]...[question] at 0..N-1). Anything else is
// ErrorCode::unsupported with a message saying so (selective recompute then needs the CPU backend).
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "model/tokenizer.h"
#include "runtime/cuda/backend.h"
#include "runtime/model.h"
#include "runtime/probe.h"
#include "util/cancel.h"
#include "util/status.h"

namespace docket {

class Session {
public:
    virtual ~Session() = default;

    virtual Backend backend() const = 0;
    virtual const ModelConfig& config() const = 0;
    virtual int32_t size() const = 0;                        // rows held
    virtual int32_t capacity() const = 0;                    // rows it can hold
    virtual std::span<const int32_t> positions() const = 0;  // [size()]
    int32_t next_position() const;                           // last row's position + 1 (0 when empty)

    // Runs `tokens` (appended as rows size().., at `positions`, one each) through the model; each token
    // attends to every row whose position is <= its own. `logits` receives the rows `mode` asks for,
    // row-major [rows, n_vocab]. `cancel` is read before every chunk (ErrorCode::cancelled). On any error the
    // session is truncated back to its size on entry.
    virtual Status eval(std::span<const TokenId> tokens, std::span<const int32_t> positions, LogitsMode mode,
                        std::vector<float>* logits, const CancelFlag* cancel = nullptr) = 0;
    // The same at next_position(), next_position() + 1, ...
    Status eval(std::span<const TokenId> tokens, LogitsMode mode, std::vector<float>* logits,
                const CancelFlag* cancel = nullptr);

    virtual void truncate(int32_t n) = 0;  // keeps rows [0, n)
    // Re-places rows [first, first + positions.size()) at new positions.
    virtual Status set_positions(int32_t first, std::span<const int32_t> positions) = 0;

    // KV import: reserves positions.size() rows at the end at these positions (contents undefined until
    // written); returns the first row's index.
    virtual Result<int32_t> append_rows(std::span<const int32_t> positions) = 0;
    // Rows [first, first + n) of layer l in or out: k, v are [n, n_kv_heads, head_dim] f32, K before RoPE.
    virtual Status write_rows(int32_t l, int32_t first, int32_t n, const float* k, const float* v) = 0;
    virtual Status read_rows(int32_t l, int32_t first, int32_t n, float* k, float* v) const = 0;

    // Observes the following evals (nullptr: none); the probe must outlive them. A backend that cannot
    // observe what the probe asks for fails those evals with ErrorCode::unsupported.
    virtual void set_probe(ForwardProbe* probe) = 0;
};

// Rows exported to the host: k[l], v[l] are [n, n_kv_heads, head_dim] f32 for every layer l.
struct KvRows {
    int32_t n = 0;
    std::vector<std::vector<float>> k, v;
};

// Rows [first, first + n) of every layer.
Result<KvRows> export_rows(const Session& s, int32_t first, int32_t n);
// Appends rows.n rows at `positions` (one per row) holding rows' K and V; on error the session is truncated
// back. Returns the first row's index.
Result<int32_t> import_rows(Session& s, std::span<const int32_t> positions, const KvRows& rows);
// The same at next_position(), next_position() + 1, ...
Result<int32_t> import_rows(Session& s, const KvRows& rows);

// Opens sessions of one model on one backend (a CPU forward pass and its threads, or the model's weights
// on the GPU), shared by every session it opens.
class SessionFactory {
public:
    virtual ~SessionFactory() = default;
    virtual Backend backend() const = 0;
    // What runs, for logs and telemetry: "CPU (requested), 16 threads", "CUDA, NVIDIA H200 (sm_90, ...)".
    virtual const std::string& description() const = 0;
    // An empty session with room for `capacity` rows.
    virtual Result<std::unique_ptr<Session>> open(int32_t capacity) = 0;
};

// The one place the backend is chosen (select_backend's names: cpu, cuda, auto). "cuda" fails when the GPU
// or the model is not usable there (no_device, unsupported); "auto" then runs on the CPU and says why, in
// description() and in a log line. threads: CPU threads (0: all cores).
Result<std::shared_ptr<SessionFactory>> open_backend(const Model& model, std::string_view backend,
                                                     int threads);
// One session of open_backend(model, backend, threads): it keeps its factory alive.
Result<std::unique_ptr<Session>> open_session(const Model& model, std::string_view backend, int32_t capacity,
                                              int threads, std::string* description = nullptr);

}  // namespace docket
