// Measurement and reporting helpers of the benchmarks: run an operation on N threads for a while,
// collect throughput and latency percentiles, print a side-by-side table, goal lines and
// `metric NAME VALUE` lines.
//
// Thread safety: the measuring functions start and join their own threads; the printing helpers are
// for one thread.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "edgetrust/status.h"

namespace edgetrust::bench {

// One cell of the table: an implementation of an operation at a thread count. Measured in one or
// more slices (MeasureInto), then summarised (Finish).
struct Cell {
  bool measured = false;  // false: "n/a", with `note` saying why
  std::string note;
  double ops_per_s = 0;
  double p50_us = 0;
  double p99_us = 0;

  // Accumulated over the slices.
  double elapsed_s = 0;
  std::vector<float> samples_us;
};

// One operation as a thread runs it: prepared once per thread (connections, sessions, contexts),
// then called until the time is up. A failing call ends the measurement with that error.
using ThreadOp = std::function<Status()>;
using OpFactory = std::function<Result<ThreadOp>(int thread)>;

// Prepares `threads` workers, warms each up briefly, then runs them together for `seconds`,
// timing every call, and adds the calls to `cell`. Fails with the first preparation or operation
// error (the cell then says n/a with that error).
Status MeasureInto(Cell& cell, int threads, double seconds, const OpFactory& factory);
// Computes the rate and percentiles of a cell from its slices.
void Finish(Cell& cell);

// Measures several implementations of one operation in turns: `rounds` slices each, alternating,
// so that a machine whose speed drifts (a virtual machine's neighbours, frequency changes) favours
// none of them. Returns one finished Cell per factory.
std::vector<Cell> MeasureSideBySide(int threads, double seconds, int rounds,
                                    const std::vector<OpFactory>& factories);

// Text of a value for the table and metric lines.
std::string Fixed(double value, int decimals);

// A plain-text table with aligned columns; rows are printed as `| a | b |` lines.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void Print() const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// Prints `metric NAME VALUE`.
void Metric(const std::string& name, double value, int decimals = 1);

}  // namespace edgetrust::bench
