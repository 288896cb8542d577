#pragma once

// vigilctl is a command line tool: it may wait for one asynchronous call on a
// local event loop. Nothing on a GUI thread or the pipeline worker does this.

#include "core/util/result.h"

#include <QEventLoop>
#include <QObject>

#include <functional>
#include <optional>

namespace vigil::cli {

/// Calls start(context, callback) and spins a local event loop until the
/// callback has delivered a Result<T>.
template<typename T>
Result<T> await(const std::function<void(QObject *, std::function<void(Result<T>)>)> &start)
{
    std::optional<Result<T>> out;
    QEventLoop loop;
    QObject context;
    start(&context, [&out, &loop](Result<T> r) {
        out.emplace(std::move(r));
        loop.quit();
    });
    if (!out)
        loop.exec();
    return std::move(*out);
}

} // namespace vigil::cli
