module vigil.dev/bench/writer

go 1.22
