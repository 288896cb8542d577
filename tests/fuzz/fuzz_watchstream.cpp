// Fuzzes the watch-stream framer and event decoder, then the projections of
// every decoded object. The input is the raw stream; the chunk boundaries
// are derived from a hash of it, so a seed is just a stream and a crash
// reproduces from its file alone.

#include "core/kube/projections.h"
#include "core/kube/watchstream.h"

#include "tests/fuzz/fuzzprint.h"

#include <QByteArrayView>

#include <cstddef>
#include <cstdint>

namespace {

void project(const vigil::kube::WatchEvent &event)
{
    using namespace vigil::kube;
    (void)event.resourceVersion();
    if (event.type == WatchEvent::Type::Error) {
        vigil::fuzz::report("watch", event.error.message);
        return;
    }
    vigil::fuzz::report("projectPod", projectPod(event.object));
    (void)projectNode(event.object);
    (void)projectEvent(event.object);
    (void)projectWorkload(event.object);
    (void)projectGeneric(event.object);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    using namespace vigil::kube;
    // FNV-1a of the input seeds a xorshift that picks chunk lengths.
    uint64_t state = 1469598103934665603ULL;
    for (size_t i = 0; i < size; ++i)
        state = (state ^ data[i]) * 1099511628211ULL;
    state |= 1;

    // A small line limit so the oversized-line path is reached too.
    WatchDecoder decoder(state % 4 == 0 ? 64 : WatchDecoder::DefaultMaxLineBytes);
    const QByteArrayView all(reinterpret_cast<const char *>(data), static_cast<qsizetype>(size));
    qsizetype at = 0;
    while (at < all.size()) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        const qsizetype want = (state % 8 == 0) ? all.size() : static_cast<qsizetype>(1 + state % 97);
        const qsizetype n = qMin(want, all.size() - at);
        for (const WatchEvent &event : decoder.feed(all.sliced(at, n)))
            project(event);
        at += n;
    }
    for (const WatchEvent &event : decoder.finish())
        project(event);
    return 0;
}
