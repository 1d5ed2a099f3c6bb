#pragma once
// The ingest job: walk the inputs, read each supported file, split it into segments, prefill every segment
// after the shared prefix and store its snapshot, routing keys and text (FTS5). Re-running skips unchanged
// documents, redoes changed ones and retires removed ones; an interrupted run (cancel, crash, SIGKILL) resumes
// at the first segment without a snapshot, so nothing finished is redone.
#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "ingest/segmenter.h"
#include "kv/workspace.h"

namespace docket::ingest {

struct IngestOptions {
    SegmenterOptions segmenter;
    uint64_t max_file_bytes = 64ull << 20;
};

struct IngestProgress {
    int64_t files_total = 0, files_done = 0;
    int64_t bytes_total = 0, bytes_done = 0;  // of files read so far (bytes of skipped files count as done)
    int64_t tokens_done = 0;                  // tokens prefilled or reused
    double elapsed_s = 0.0, eta_s = -1.0;     // eta < 0: not known yet
    std::string current;                      // file being worked on
};

struct FileOutcome {
    std::string path;
    std::string status;  // ingested, unchanged, failed, retired, cancelled
    std::string error;
    int64_t segments = 0, tokens = 0;
};

struct IngestReport {
    std::vector<FileOutcome> files;
    std::vector<std::string> skipped_unsupported;
    int64_t ingested = 0, unchanged = 0, failed = 0, retired = 0;
    int64_t segments_prefilled = 0, segments_reused = 0, tokens = 0;
    bool cancelled = false;
};

using ProgressFn = std::function<void(const IngestProgress&)>;

// File extensions this ingest reads (".txt", ".md", ...; lower case, with the dot), for the file walker.
const std::vector<std::string>& supported_extensions();

// Runs on the calling (compute) thread. Per-file problems are outcomes, not errors: the run goes on. An error
// is returned only when the store itself fails (disk full, I/O error) or the collection name is invalid.
Result<IngestReport> run_ingest(kv::Workspace& ws, const std::string& collection,
                                const std::vector<std::string>& inputs, const IngestOptions& opt,
                                const std::atomic<bool>* cancel, const ProgressFn& progress);

}  // namespace docket::ingest
