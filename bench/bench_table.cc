#include "bench_table.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>

namespace edgetrust::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Calls each worker makes before the clock starts: connections and caches are warm, and the
// first-call costs (key loading, lazy initialisation) stay out of the figures. After the first
// call the warm-up stops at kWarmUpSeconds, so that slow operations (a TPM simulator takes
// milliseconds per call) keep a slice close to the time it was given; fast operations make all
// kWarmUpCalls well within it.
constexpr int kWarmUpCalls = 50;
constexpr double kWarmUpSeconds = 0.1;

double Percentile(const std::vector<float>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)];
}

}  // namespace

Status MeasureInto(Cell& cell, int threads, double seconds, const OpFactory& factory) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::atomic<bool> stop{false};
  std::mutex mu;
  Status first_error;
  std::vector<float> samples;
  auto fail = [&](const Status& st) {
    std::lock_guard<std::mutex> lock(mu);
    if (first_error.ok()) first_error = st;
  };

  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      auto op = factory(t);
      Status st = op.ok() ? Status::Ok() : op.status();
      if (st.ok()) st = (*op)();  // the first call, with its one-time costs, is never timed
      const auto warm_end = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                               std::chrono::duration<double>(kWarmUpSeconds));
      for (int i = 1; st.ok() && i < kWarmUpCalls && Clock::now() < warm_end; ++i) st = (*op)();
      if (!st.ok()) {
        fail(st);
        stop = true;
      }
      ready.fetch_add(1);
      while (!go.load()) std::this_thread::yield();
      std::vector<float> mine;
      mine.reserve(1 << 16);
      while (st.ok() && !stop.load(std::memory_order_relaxed)) {
        auto start = Clock::now();
        st = (*op)();
        mine.push_back(std::chrono::duration<float, std::micro>(Clock::now() - start).count());
      }
      if (!st.ok()) {
        fail(st);
        stop = true;
      }
      std::lock_guard<std::mutex> lock(mu);
      samples.insert(samples.end(), mine.begin(), mine.end());
    });
  }
  while (ready.load() < threads) std::this_thread::yield();
  auto start = Clock::now();
  go = true;
  auto end =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  while (!stop.load() && Clock::now() < end)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  stop = true;
  for (auto& th : pool) th.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  if (!first_error.ok()) {
    cell.note = first_error.ToString();
    return first_error;
  }
  cell.elapsed_s += elapsed;
  cell.samples_us.insert(cell.samples_us.end(), samples.begin(), samples.end());
  return Status::Ok();
}

void Finish(Cell& cell) {
  cell.measured = cell.note.empty() && cell.elapsed_s > 0;
  if (!cell.measured) return;
  std::sort(cell.samples_us.begin(), cell.samples_us.end());
  cell.ops_per_s = static_cast<double>(cell.samples_us.size()) / cell.elapsed_s;
  cell.p50_us = Percentile(cell.samples_us, 0.50);
  cell.p99_us = Percentile(cell.samples_us, 0.99);
  cell.samples_us = {};
}

std::vector<Cell> MeasureSideBySide(int threads, double seconds, int rounds,
                                    const std::vector<OpFactory>& factories) {
  std::vector<Cell> cells(factories.size());
  for (int r = 0; r < rounds; ++r) {
    for (size_t i = 0; i < factories.size(); ++i) {
      if (!cells[i].note.empty()) continue;  // failed once: n/a
      (void)MeasureInto(cells[i], threads, seconds / rounds, factories[i]);
    }
  }
  for (Cell& c : cells) Finish(c);
  return cells;
}

std::string Fixed(double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

void Table::Print() const {
  std::vector<size_t> width(header_.size(), 0);
  auto widen = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size() && i < width.size(); ++i)
      width[i] = std::max(width[i], row[i].size());
  };
  widen(header_);
  for (const auto& r : rows_) widen(r);
  auto line = [&](const std::vector<std::string>& row) {
    std::string out = "|";
    for (size_t i = 0; i < width.size(); ++i) {
      const std::string cell = i < row.size() ? row[i] : "";
      // Text left-aligned in the first column, everything else right-aligned (numbers).
      std::string pad(width[i] - cell.size(), ' ');
      out += " " + (i == 0 ? cell + pad : pad + cell) + " |";
    }
    std::printf("%s\n", out.c_str());
  };
  line(header_);
  std::string rule = "|";
  for (size_t w : width) rule += std::string(w + 2, '-') + "|";
  std::printf("%s\n", rule.c_str());
  for (const auto& r : rows_) line(r);
}

void Metric(const std::string& name, double value, int decimals) {
  std::printf("metric %s %s\n", name.c_str(), Fixed(value, decimals).c_str());
}

}  // namespace edgetrust::bench
