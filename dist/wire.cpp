#include "dist/wire.h"

#include <cstring>
#include <limits>

#include "core/check.h"

namespace sarathi::dist {

using core::ErrorCode;
using core::make_error;

namespace {

constexpr uint32_t kMagic = 0x31505053;  // "SPP1"
constexpr int64_t kMaxCount = int64_t{1} << 31;

struct Header {
  uint32_t magic;
  int32_t kind;
  int64_t batch_idx;
  int32_t num_seqs;
  int32_t num_tokens;
  int32_t num_table_ids;
  int32_t num_times;
  int64_t num_data;    // floats
  int32_t num_logits;  // sum over the sequences
  int32_t reserved;
};
static_assert(sizeof(Header) == 48);

constexpr int32_t kSeqFields = 4;  // num_tokens, first_pos, num_logits, table_len
constexpr int32_t kTimeFields = 3;

int64_t align_up(int64_t n, int64_t a) { return (n + a - 1) / a * a; }

// Byte offsets of each section, from the counts.
struct Layout {
  int64_t seqs, tokens, tables, times, data, end;
};
Layout layout(const Header& h) {
  Layout l;
  l.seqs = sizeof(Header);
  l.tokens = l.seqs + int64_t{h.num_seqs} * kSeqFields * 4;
  l.tables = l.tokens + int64_t{h.num_tokens} * 4;
  l.times = align_up(l.tables + int64_t{h.num_table_ids} * 4, 8);
  l.data = align_up(l.times + int64_t{h.num_times} * kTimeFields * 8, 64);
  l.end = l.data + h.num_data * 4;
  return l;
}

}  // namespace

void encode(const Message& m, Buffer& out) {
  Header h{};
  h.magic = kMagic;
  h.kind = static_cast<int32_t>(m.kind);
  h.batch_idx = m.batch_idx;
  h.num_seqs = static_cast<int32_t>(m.seqs.size());
  for (const model::SeqInput& s : m.seqs) {
    h.num_tokens += static_cast<int32_t>(s.tokens.size());
    h.num_table_ids += static_cast<int32_t>(s.block_table.size());
    h.num_logits += s.num_logits;
  }
  h.num_times = static_cast<int32_t>(m.times.size());
  h.num_data = static_cast<int64_t>(m.data.size());
  const Layout l = layout(h);
  out.resize(static_cast<size_t>(l.end));
  std::byte* p = out.data();
  std::memcpy(p, &h, sizeof h);
  auto* meta = p + l.seqs;
  auto* tokens = p + l.tokens;
  auto* tables = p + l.tables;
  for (const model::SeqInput& s : m.seqs) {
    const int32_t fields[kSeqFields] = {static_cast<int32_t>(s.tokens.size()), s.first_pos,
                                        s.num_logits, static_cast<int32_t>(s.block_table.size())};
    std::memcpy(meta, fields, sizeof fields);
    meta += sizeof fields;
    if (!s.tokens.empty()) std::memcpy(tokens, s.tokens.data(), s.tokens.size_bytes());
    tokens += s.tokens.size_bytes();
    if (!s.block_table.empty()) {
      std::memcpy(tables, s.block_table.data(), s.block_table.size_bytes());
    }
    tables += s.block_table.size_bytes();
  }
  // Padding bytes are zeroed so a message's bytes depend only on its content.
  std::memset(tables, 0, static_cast<size_t>(l.times - (tables - p)));
  auto* times = p + l.times;
  for (const engine::StageTime& t : m.times) {
    const double fields[kTimeFields] = {t.idle_s, t.transfer_s, t.compute_s};
    std::memcpy(times, fields, sizeof fields);
    times += sizeof fields;
  }
  std::memset(times, 0, static_cast<size_t>(l.data - (times - p)));
  if (!m.data.empty()) std::memcpy(p + l.data, m.data.data(), m.data.size_bytes());
}

void patch_time(Buffer& encoded, size_t index, const engine::StageTime& time) {
  Header h;
  std::memcpy(&h, encoded.data(), sizeof h);
  SARATHI_CHECK(h.magic == kMagic && index < static_cast<size_t>(h.num_times),
                "patching stage time {} of a message with {}", index, h.num_times);
  const double fields[kTimeFields] = {time.idle_s, time.transfer_s, time.compute_s};
  std::memcpy(encoded.data() + layout(h).times + static_cast<int64_t>(index) * sizeof fields,
              fields, sizeof fields);
}

core::Result<Message> decode(std::span<const std::byte> bytes, std::vector<model::SeqInput>& seqs,
                             std::vector<engine::StageTime>& times) {
  Header h;
  if (bytes.size() < sizeof h)
    return make_error(ErrorCode::kInvalidFormat, "pipeline message of {} bytes: no header",
                      bytes.size());
  if (reinterpret_cast<uintptr_t>(bytes.data()) % alignof(float) != 0)
    return make_error(ErrorCode::kInvalidArgument, "pipeline message buffer is misaligned");
  std::memcpy(&h, bytes.data(), sizeof h);
  if (h.magic != kMagic)
    return make_error(ErrorCode::kInvalidFormat, "not a pipeline message (magic {:#x})", h.magic);
  if (h.kind < static_cast<int32_t>(MessageKind::kBatch) ||
      h.kind > static_cast<int32_t>(MessageKind::kEnd))
    return make_error(ErrorCode::kInvalidFormat, "pipeline message of unknown kind {}", h.kind);
  for (int64_t n : {int64_t{h.num_seqs}, int64_t{h.num_tokens}, int64_t{h.num_table_ids},
                    int64_t{h.num_times}, h.num_data, int64_t{h.num_logits}})
    if (n < 0 || n >= kMaxCount)
      return make_error(ErrorCode::kInvalidFormat, "pipeline message with a count of {}", n);
  const Layout l = layout(h);
  if (l.end != static_cast<int64_t>(bytes.size()))
    return make_error(ErrorCode::kInvalidFormat,
                      "pipeline message of {} bytes, its header describes {}", bytes.size(), l.end);
  const std::byte* p = bytes.data();
  const auto* tokens = reinterpret_cast<const int32_t*>(p + l.tokens);
  const auto* tables = reinterpret_cast<const int32_t*>(p + l.tables);
  seqs.clear();
  int64_t num_tokens = 0, num_table_ids = 0, num_logits = 0;
  for (int32_t i = 0; i < h.num_seqs; ++i) {
    int32_t f[kSeqFields];
    std::memcpy(f, p + l.seqs + int64_t{i} * sizeof f, sizeof f);
    if (f[0] < 1 || f[1] < 0 || f[2] < 0 || f[2] > f[0] || f[3] < 0 ||
        num_tokens + f[0] > h.num_tokens || num_table_ids + f[3] > h.num_table_ids)
      return make_error(ErrorCode::kInvalidFormat,
                        "pipeline message: sequence {} has {} tokens at {}, {} logits, {} "
                        "blocks, beyond the message's totals",
                        i, f[0], f[1], f[2], f[3]);
    seqs.push_back({std::span(tokens + num_tokens, static_cast<size_t>(f[0])), f[1],
                    std::span(tables + num_table_ids, static_cast<size_t>(f[3])), f[2]});
    num_tokens += f[0];
    num_table_ids += f[3];
    num_logits += f[2];
  }
  if (num_tokens != h.num_tokens || num_table_ids != h.num_table_ids || num_logits != h.num_logits)
    return make_error(ErrorCode::kInvalidFormat,
                      "pipeline message: sequences add up to {} tokens, {} blocks, {} logits; "
                      "the header says {}, {}, {}",
                      num_tokens, num_table_ids, num_logits, h.num_tokens, h.num_table_ids,
                      h.num_logits);
  times.clear();
  for (int32_t i = 0; i < h.num_times; ++i) {
    double f[kTimeFields];
    std::memcpy(f, p + l.times + int64_t{i} * sizeof f, sizeof f);
    times.push_back({.idle_s = f[0], .transfer_s = f[1], .compute_s = f[2]});
  }
  Message m;
  m.kind = static_cast<MessageKind>(h.kind);
  m.batch_idx = h.batch_idx;
  m.seqs = seqs;
  m.times = times;
  m.data = std::span(reinterpret_cast<const float*>(p + l.data), static_cast<size_t>(h.num_data));
  return m;
}

}  // namespace sarathi::dist
