# The rooms of the house and the doors between them: the ONE table that both the per-room libraries
# (engine/CMakeLists.txt) and the include check (engine/check_rooms.cmake, run by the build and by ctest) read.
#
# DOCKET_DOORS_<room>: what files of <room> may #include besides their own room's headers. A door is a room
# (every header in it) or one header ("util/status.h": that header only). The engine rooms are the folders
# engine/<room>/; "kernels" is kernels/ (its headers are included by bare name, e.g. "gemv_q.cuh"), "cli" is
# app/cli and app/common (docket-cli), "dev" is app/dev (docket-dev). Doors go one way, down: api -> query,
# ingest -> kv -> runtime, store -> model -> util; format and telemetry are leaves every engine room above util may use; only runtime reaches the kernels, which see the
# page format and the Status type and nothing else of the engine. "ui" is ui/ (the Qt library of the window)
# and "gui" is app/gui/ (the docket executable): they see the engine only through its public seam, api/engine.h
# (which brings util/status.h), so a window can never reach past it.
# Keep the room table in engine/README.md in step with this one.

# Engine rooms from the bottom up (a room's doors are all below it, so libraries are defined in this order).
set(DOCKET_ENGINE_ROOMS util format telemetry model store runtime kv ingest query api)

set(DOCKET_DOORS_util)
set(DOCKET_DOORS_format    util)
set(DOCKET_DOORS_telemetry util)
set(DOCKET_DOORS_model     util format telemetry)
set(DOCKET_DOORS_store     model util format telemetry)
set(DOCKET_DOORS_runtime   model util format telemetry kernels)
set(DOCKET_DOORS_kv        runtime store model util format telemetry)
set(DOCKET_DOORS_ingest    kv runtime store model util format telemetry)
set(DOCKET_DOORS_query     kv runtime store model util format telemetry)
set(DOCKET_DOORS_api       query ingest kv runtime store model util format telemetry)
set(DOCKET_DOORS_kernels   format util/status.h)
# app/cli and app/common make the installed docket-cli: the engine's public seam only (util/status.h is part of
# it: api/engine.h includes it), plus logging set-up and the escaping of untrusted text for the terminal.
# app/dev is docket-dev, the developer tool (benchmarks, model tools): any room but the kernels.
set(DOCKET_DOORS_cli       api util/status.h util/log.h util/text_escape.h)
set(DOCKET_DOORS_dev       cli api query ingest kv runtime store model util format telemetry)
set(DOCKET_DOORS_ui        api/engine.h util/status.h)
set(DOCKET_DOORS_gui       ui api/engine.h util/status.h)
