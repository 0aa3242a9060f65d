#include "lib/ir/parse.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>

#include <cctype>
#include <charconv>
#include <cstdlib>
#include <limits>
#include <optional>
#include <type_traits>

#include "lib/core/scalar_type.h"

namespace kiln::ir {
namespace {

// A cursor over the text that knows its line and column, for error messages.
class Lexer {
 public:
  Lexer(std::string_view text, std::string_view file) : text_(text), file_(file) {}

  void skipSpaces() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\r'))
      advance();
  }
  // Skips blank lines and `#` comments.
  void skipBlankLines() {
    for (;;) {
      skipSpaces();
      if (pos_ < text_.size() && text_[pos_] == '#') {
        while (pos_ < text_.size() && text_[pos_] != '\n') advance();
      }
      if (pos_ < text_.size() && text_[pos_] == '\n') {
        advance();
        continue;
      }
      return;
    }
  }
  bool atEnd() const { return pos_ >= text_.size(); }
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  bool accept(char c) {
    skipSpaces();
    if (peek() != c) return false;
    advance();
    return true;
  }
  void expect(char c, const std::string& what) {
    if (!accept(c)) fail(absl::StrCat("expected '", std::string(1, c), "' ", what));
  }
  void expectLineEnd(const std::string& what) {
    skipSpaces();
    if (peek() == '#') {
      while (pos_ < text_.size() && text_[pos_] != '\n') advance();
    }
    if (atEnd()) return;
    if (peek() != '\n') fail(absl::StrCat("expected end of line ", what));
    advance();
  }
  std::string word() {
    skipSpaces();
    markToken();
    size_t start = pos_;
    while (pos_ < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[pos_])) ||
                                   text_[pos_] == '_' || text_[pos_] == '.')) {
      advance();
    }
    return std::string(text_.substr(start, pos_ - start));
  }
  bool peekWord(std::string_view w) {
    skipSpaces();
    return text_.substr(pos_, w.size()) == w;
  }
  int64_t integer(const std::string& what) {
    skipSpaces();
    markToken();
    size_t start = pos_;
    if (peek() == '-') advance();
    while (std::isdigit(static_cast<unsigned char>(peek()))) advance();
    int64_t v = 0;
    auto r = std::from_chars(text_.data() + start, text_.data() + pos_, v);
    if (start == pos_ || r.ec != std::errc() || r.ptr != text_.data() + pos_) {
      pos_ = start;
      fail(absl::StrCat("expected an integer ", what));
    }
    return v;
  }
  uint64_t unsignedInteger(const std::string& what) {
    skipSpaces();
    markToken();
    size_t start = pos_;
    while (std::isdigit(static_cast<unsigned char>(peek()))) advance();
    uint64_t v = 0;
    auto r = std::from_chars(text_.data() + start, text_.data() + pos_, v);
    if (start == pos_ || r.ec != std::errc() || r.ptr != text_.data() + pos_) {
      pos_ = start;
      fail(absl::StrCat("expected a non-negative integer ", what));
    }
    return v;
  }
  // A number token: returns its text (validated by the caller for its dtype).
  std::string numberToken() {
    skipSpaces();
    markToken();
    size_t start = pos_;
    while (pos_ < text_.size() &&
           (std::isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '.' ||
            text_[pos_] == '-' || text_[pos_] == '+')) {
      advance();
    }
    return std::string(text_.substr(start, pos_ - start));
  }
  // `[1, 2, 3]`; `noun` names the list in messages ("shape", "strides").
  std::vector<int64_t> intList(const std::string& noun) {
    expect('[', absl::StrCat("to start the ", noun));
    std::vector<int64_t> v;
    if (accept(']')) return v;
    do {
      v.push_back(integer(absl::StrCat("in the ", noun)));
      if (v.size() > 64) failToken(absl::StrCat("too many entries in the ", noun));
    } while (accept(','));
    expect(']', absl::StrCat("after ", noun));
    return v;
  }
  /// An error at the current position.
  [[noreturn]] void fail(const std::string& msg) {
    throw ParseError{absl::StrCat(file_, ":", line_, ":", col_, ": ", msg)};
  }
  /// An error at the start of the last token read.
  [[noreturn]] void failToken(const std::string& msg) {
    throw ParseError{absl::StrCat(file_, ":", token_line_, ":", token_col_, ": ", msg)};
  }
  int line() const { return line_; }

  struct ParseError {
    std::string message;
  };

 private:
  void advance() {
    if (text_[pos_] == '\n') {
      ++line_;
      col_ = 1;
    } else {
      ++col_;
    }
    ++pos_;
  }
  std::string_view text_;
  std::string file_;
  void markToken() {
    token_line_ = line_;
    token_col_ = col_;
  }
  size_t pos_ = 0;
  int line_ = 1, col_ = 1;
  int token_line_ = 1, token_col_ = 1;
};

constexpr int64_t kMaxDim = int64_t{1} << 40;

// The op part of a mnemonic: sets op/sop/rop, or fails.
void decodeMnemonic(Lexer& lx, const std::string& m, NodeDesc& d) {
  static const std::pair<std::string_view, Op> kPlain[] = {
      {"param", Op::Param},     {"const", Op::Const},
      {"iota", Op::Iota},       {"rand", Op::Rand},
      {"randn", Op::Randn},     {"strided", Op::Strided},
      {"write", Op::Write},     {"gather", Op::Gather},
      {"scatter", Op::Scatter}, {"scatter_add", Op::ScatterAdd}};
  for (auto [name, op] : kPlain) {
    if (m == name) {
      d.op = op;
      return;
    }
  }
  size_t dot = m.find('.');
  if (dot != std::string::npos) {
    std::string head = m.substr(0, dot), tail = m.substr(dot + 1);
    if (head == "reduce" || head == "argreduce") {
      d.op = head == "reduce" ? Op::Reduce : Op::ArgReduce;
      for (ReduceOp r : {ReduceOp::Sum, ReduceOp::Prod, ReduceOp::Max, ReduceOp::Min}) {
        if (reduceName(r) == tail) {
          d.rop = r;
          if (d.op == Op::ArgReduce && (r == ReduceOp::Sum || r == ReduceOp::Prod)) break;
          return;
        }
      }
      lx.failToken(absl::StrCat("unknown reduction '", m, "'"));
    }
  }
  if (scalarOpFromName(m, &d.sop)) {
    d.op = Op::Elementwise;
    return;
  }
  lx.failToken(absl::StrCat("unknown op '", m, "'"));
}

void parseAttrs(Lexer& lx, NodeDesc& d) {
  if (!lx.accept('{')) return;
  std::optional<int64_t> extent;
  do {
    std::string key = lx.word();
    lx.expect('=', absl::StrCat("after attribute '", key, "'"));
    if (key == "axis") {
      d.ivalue = lx.integer("for axis");
    } else if (key == "seed") {
      d.seed = lx.unsignedInteger("for seed");
    } else if (key == "offset") {
      d.offset = lx.integer("for offset");
    } else if (key == "strides" || key == "axes") {
      d.ints = lx.intList(key);
    } else if (key == "extent" && (d.op == Op::Scatter || d.op == Op::ScatterAdd)) {
      extent = lx.integer("for extent");
    } else {
      lx.failToken(absl::StrCat("unknown attribute '", key, "'"));
    }
  } while (lx.accept(','));
  lx.expect('}', "after attributes");
  // A scatter keeps its axis's extent after its strides (ir::Op::Scatter).
  if (extent) d.ints.push_back(*extent);
}

// Whether an elementwise op's operand and result types follow its row's dtype rule (ops.def);
// the problem, or "".
std::string checkDtypeRule(ScalarOp op, const std::vector<ScalarType>& operands,
                           ScalarType result) {
  const ScalarOpInfo& row = info(op);
  switch (row.dtype) {
    case DtypeRule::Arith:
    case DtypeRule::Float:
    case DtypeRule::Compare:
      for (ScalarType t : operands) {
        if (t != operands[0]) return "operands must have the same type";
      }
      if (row.dtype == DtypeRule::Compare) {
        if (result != ScalarType::Bool) return "a comparison's result is i1";
      } else if (operands[0] != result) {
        return "the result must have the operands' type";
      }
      if (row.dtype == DtypeRule::Float && !isFloatingType(result))
        return absl::StrCat(std::string(row.name), " needs f16, bf16, f32 or f64");
      return "";
    case DtypeRule::Logical:
      if (result != ScalarType::Bool) return "a comparison's result is i1";
      return "";
    case DtypeRule::Cast:
      return "";
    case DtypeRule::Select:
      if (operands[0] != ScalarType::Bool) return "where's condition must be i1";
      if (operands[1] != result || operands[2] != result)
        return "where's values must have the result's type";
      return "";
  }
  return "";
}

// `graph {` and the end of its line.
void parseHeader(Lexer& lx) {
  lx.skipBlankLines();
  if (lx.word() != "graph") lx.fail("expected 'graph'");
  lx.expect('{', "after 'graph'");
  lx.expectLineEnd("after 'graph {'");
}

// `%a, %b, ...` after the op, each defined before this instruction (`defined` values so far).
void parseOperands(Lexer& lx, size_t defined, Instr& in) {
  lx.skipSpaces();
  if (lx.peek() != '%') return;
  do {
    lx.expect('%', "for an operand");
    int64_t o = lx.integer("after '%'");
    if (o < 0 || o >= static_cast<int64_t>(defined)) {
      lx.failToken(absl::StrCat("operand %", o, " is not defined before this instruction"));
    }
    in.operands.push_back(static_cast<int32_t>(o));
  } while (lx.accept(','));
}

// `: dtype[shape]`.
void parseType(Lexer& lx, NodeDesc& d) {
  lx.expect(':', "before the type");
  std::string dt = lx.word();
  if (!detail::scalarTypeFromIrName(dt, &d.dtype))
    lx.failToken(absl::StrCat("unknown dtype '", dt, "'"));
  d.shape = lx.intList("shape");
  for (int64_t x : d.shape) {
    if (x < 0 || x > kMaxDim) lx.failToken("shape sizes must be between 0 and 2^40");
  }
}

// A const's literal, read as its dtype (known only once the type is read).
void setConstValue(Lexer& lx, const std::string& literal, NodeDesc& d) {
  const char* begin = literal.c_str();
  char* end = nullptr;
  bool fits = true;
  if (isFloatingType(d.dtype)) {
    d.fvalue = std::strtod(begin, &end);
  } else {
    d.ivalue = std::strtoll(begin, &end, 10);
    // An integer constant is one of its type's values (a u8 constant is 0 to 255).
    fits = detail::visitType(d.dtype, [&]<typename T>() {
      if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
        return static_cast<int64_t>(static_cast<T>(d.ivalue)) == d.ivalue;
      }
      return true;
    });
  }
  if (end != begin + literal.size() || !fits)
    lx.failToken(absl::StrCat("bad constant '", literal, "' for ", std::string(irName(d.dtype))));
}

// One line `%N = op [literal] [operands] [attrs] : type`, where N is `defined`.
Instr parseInstruction(Lexer& lx, size_t defined) {
  lx.expect('%', "at the start of an instruction");
  int64_t id = lx.integer("after '%'");
  if (id != static_cast<int64_t>(defined)) {
    lx.failToken(absl::StrCat("expected %", defined, " (values are numbered in order)"));
  }
  lx.expect('=', "after the value name");
  std::string m = lx.word();
  if (m.empty()) lx.fail("expected an op name");
  Instr in;
  decodeMnemonic(lx, m, in.d);
  std::string literal;
  if (in.d.op == Op::Param) {
    in.d.ivalue = lx.integer("for the param index");
  } else if (in.d.op == Op::Const) {
    literal = lx.numberToken();
    if (literal.empty()) lx.fail("expected a number for the constant");
  }
  parseOperands(lx, defined, in);
  parseAttrs(lx, in.d);
  parseType(lx, in.d);
  if (in.d.op == Op::Const) setConstValue(lx, literal, in.d);
  lx.expectLineEnd("after the type");
  return in;
}

// The instructions up to `return`; line_of gets each one's line, for verifier messages.
void parseInstructions(Lexer& lx, Graph& g, std::vector<int>& line_of) {
  for (;;) {
    lx.skipBlankLines();
    if (lx.atEnd()) lx.fail("expected 'return' before the end of the input");
    if (lx.peekWord("return")) return;
    line_of.push_back(lx.line());
    g.instrs.push_back(parseInstruction(lx, g.instrs.size()));
    if (g.instrs.size() > (size_t{1} << 24)) lx.fail("too many instructions");
  }
}

// `%v [into param P]`, one returned value.
Output parseOutput(Lexer& lx, size_t defined) {
  lx.expect('%', "for a returned value");
  int64_t v = lx.integer("after '%'");
  if (v < 0 || v >= static_cast<int64_t>(defined))
    lx.failToken(absl::StrCat("returned value %", v, " is not defined"));
  Output o{static_cast<int32_t>(v), -1};
  if (lx.peekWord("into")) {
    lx.word();
    if (lx.word() != "param") lx.fail("expected 'param' after 'into'");
    int64_t p = lx.integer("for the destination param");
    if (p < 0 || p > std::numeric_limits<int32_t>::max()) lx.fail("bad destination param");
    o.dest_param = static_cast<int32_t>(p);
  }
  return o;
}

// `return %a, %b into param 0, ...` and the end of its line.
void parseReturn(Lexer& lx, Graph& g) {
  lx.word();  // return
  do {
    g.outputs.push_back(parseOutput(lx, g.instrs.size()));
  } while (lx.accept(','));
  lx.expectLineEnd("after 'return'");
}

// The closing `}`, and nothing but blank lines and comments after it.
void parseEnd(Lexer& lx) {
  lx.skipBlankLines();
  lx.expect('}', "to close the graph");
  lx.skipBlankLines();
  if (!lx.atEnd()) lx.fail("unexpected text after the graph");
}

// The verifier's problem as `file:line:1: problem`, at the instruction's line when the problem
// names one (`%N: ...`), else at `last_line`.
std::string placeProblem(const std::string& problem, std::string_view filename,
                         const std::vector<int>& line_of, int last_line) {
  int line = 0;
  if (problem.size() > 1 && problem[0] == '%') {
    size_t k = static_cast<size_t>(std::atoll(problem.c_str() + 1));
    if (k < line_of.size()) line = line_of[k];
  }
  return absl::StrCat(std::string(filename), ":", line ? line : last_line, ":1: ", problem);
}

}  // namespace

ParseResult parseGraph(std::string_view text, std::string_view filename) {
  Lexer lx(text, filename);
  Graph g;
  std::vector<int> line_of;  // per instruction, for verifier messages
  try {
    parseHeader(lx);
    parseInstructions(lx, g, line_of);
    parseReturn(lx, g);
    parseEnd(lx);
  } catch (const Lexer::ParseError& e) {
    return {std::nullopt, e.message};
  }
  std::string problem = verifyGraph(g);
  if (!problem.empty()) return {std::nullopt, placeProblem(problem, filename, line_of, lx.line())};
  return {std::move(g), ""};
}

std::string verifyGraph(const Graph& g) {
  std::vector<bool> param_seen;
  for (size_t i = 0; i < g.instrs.size(); ++i) {
    const Instr& in = g.instrs[i];
    const NodeDesc& d = in.d;
    auto bad = [&](const std::string& msg) { return absl::StrCat("%", i, ": ", msg); };
    if (static_cast<int>(in.operands.size()) != d.arity()) {
      return bad(
          absl::StrCat(mnemonic(d), " takes ", d.arity(), " operands, got ", in.operands.size()));
    }
    for (int32_t o : in.operands) {
      if (o < 0 || static_cast<size_t>(o) >= i) return bad("operands must be defined before use");
    }
    if (d.shape.size() > 16) return bad("at most 16 dimensions");
    // Element counts must not overflow: every index is computed in 64 bits.
    __int128 numel = 1;
    for (int64_t x : d.shape) {
      numel *= x;
      if (numel > (__int128{1} << 40)) return bad("more than 2^40 elements");
    }
    auto operand = [&](int k) -> const NodeDesc& { return g.instrs[in.operands[k]].d; };
    switch (d.op) {
      case Op::Param:
        if (d.shape.size() != 1)
          return bad("a param is a flat array: its type must have one dimension");
        if (d.ivalue < 0 || d.ivalue > (1 << 20)) return bad("bad param index");
        if (param_seen.size() <= static_cast<size_t>(d.ivalue))
          param_seen.resize(d.ivalue + 1, false);
        if (param_seen[d.ivalue]) return bad(absl::StrCat("param ", d.ivalue, " is defined twice"));
        param_seen[d.ivalue] = true;
        break;
      case Op::Const:
        break;
      case Op::Iota:
        if (d.ivalue < 0 || d.ivalue >= static_cast<int64_t>(d.shape.size()))
          return bad("iota axis out of range");
        break;
      case Op::Rand:
      case Op::Randn:
        if (!isFloatingType(d.dtype)) return bad("random numbers must be f16, bf16, f32 or f64");
        if (d.offset < 0) return bad("offset must be non-negative");
        break;
      case Op::Elementwise: {
        for (size_t k = 0; k < in.operands.size(); ++k) {
          if (operand(k).shape != d.shape)
            return bad("elementwise operands must have the result's shape");
        }
        std::vector<ScalarType> types;
        for (size_t k = 0; k < in.operands.size(); ++k) types.push_back(operand(k).dtype);
        std::string problem = checkDtypeRule(d.sop, types, d.dtype);
        if (!problem.empty()) return bad(problem);
        break;
      }
      case Op::Strided: {
        if (d.ints.size() != d.shape.size()) return bad("strided needs one stride per dimension");
        for (int64_t st : d.ints) {
          if (st < 0) return bad("strides must be non-negative");
        }
        if (operand(0).dtype != d.dtype) return bad("strided keeps its operand's type");
        if (numel > 0) {
          __int128 lo = d.offset, hi = d.offset;
          for (size_t k = 0; k < d.shape.size(); ++k) {
            __int128 span = static_cast<__int128>(d.shape[k] - 1) * d.ints[k];
            (span < 0 ? lo : hi) += span;
          }
          int64_t src = operand(0).numel();
          if (lo < 0 || hi >= src)
            return bad(absl::StrCat("strided reads outside its operand's ", src, " elements"));
        }
        break;
      }
      case Op::Reduce: {
        const NodeDesc& s = operand(0);
        if (s.dtype != d.dtype) return bad("reduce keeps its operand's type");
        if (s.shape.size() != d.shape.size())
          return bad("reduce keeps the rank (reduced dims have size 1)");
        std::vector<bool> red(s.shape.size(), false);
        for (int64_t a : d.ints) {
          if (a < 0 || a >= static_cast<int64_t>(s.shape.size()) || red[a])
            return bad("bad reduce axes");
          red[a] = true;
        }
        for (size_t k = 0; k < s.shape.size(); ++k) {
          if (d.shape[k] != (red[k] ? 1 : s.shape[k]))
            return bad("reduce's shape must be its operand's with the axes set to 1");
        }
        break;
      }
      case Op::ArgReduce: {
        const NodeDesc& s = operand(0);
        if (d.dtype != ScalarType::Long) return bad("argreduce gives i64");
        if (s.shape.size() != d.shape.size() || d.ivalue < 0 ||
            d.ivalue >= static_cast<int64_t>(s.shape.size())) {
          return bad("bad argreduce axis or rank");
        }
        for (size_t k = 0; k < s.shape.size(); ++k) {
          if (d.shape[k] != (static_cast<int64_t>(k) == d.ivalue ? 1 : s.shape[k]))
            return bad("argreduce's shape must be its operand's with the axis set to 1");
        }
        if (s.shape[d.ivalue] == 0) return bad("argreduce over an empty axis");
        break;
      }
      case Op::Write: {
        const NodeDesc& base = operand(0);
        const NodeDesc& val = operand(1);
        if (base.dtype != d.dtype || val.dtype != d.dtype)
          return bad("write's base and value must have its type");
        if (base.numel() != d.numel()) return bad("write has as many elements as its base");
        if (d.ints.size() != val.shape.size())
          return bad("write needs one stride per dimension of the value");
        for (int64_t st : d.ints) {
          if (st < 0) return bad("strides must be non-negative");
        }
        if (val.numel() > 0) {
          __int128 lo = d.offset, hi = d.offset;
          for (size_t k = 0; k < val.shape.size(); ++k) {
            __int128 span = static_cast<__int128>(val.shape[k] - 1) * d.ints[k];
            (span < 0 ? lo : hi) += span;
          }
          if (lo < 0 || hi >= d.numel()) return bad("write stores outside its base");
        }
        break;
      }
      case Op::Gather: {
        const NodeDesc& src = operand(0);
        const NodeDesc& index = operand(1);
        if (src.dtype != d.dtype) return bad("gather keeps its source's type");
        if (!isIntegralType(index.dtype)) return bad("gather's index must be i32 or i64");
        if (index.shape != d.shape) return bad("gather has its index's shape");
        if (d.ivalue < 0 || d.ivalue >= static_cast<int64_t>(d.shape.size()))
          return bad("gather axis out of range");
        if (src.shape.size() != d.shape.size()) return bad("gather's source has its rank");
        for (size_t k = 0; k < d.shape.size(); ++k) {
          if (static_cast<int64_t>(k) != d.ivalue && src.shape[k] != d.shape[k])
            return bad("gather's source has its shape but along the axis");
        }
        if (src.shape[d.ivalue] == 0 && d.numel() > 0) return bad("gather from an empty axis");
        break;
      }
      case Op::Scatter:
      case Op::ScatterAdd: {
        const NodeDesc& base = operand(0);
        const NodeDesc& index = operand(1);
        const NodeDesc& val = operand(2);
        if (base.dtype != d.dtype || val.dtype != d.dtype)
          return bad("scatter's base and value must have its type");
        if (base.numel() != d.numel()) return bad("scatter has as many elements as its base");
        if (!isIntegralType(index.dtype)) return bad("scatter's index must be i32 or i64");
        if (index.shape != val.shape) return bad("scatter's index and value have one shape");
        const int64_t rank = static_cast<int64_t>(val.shape.size());
        if (static_cast<int64_t>(d.ints.size()) != rank + 1)
          return bad("scatter needs an extent and one stride per dimension of the value");
        if (d.ivalue < 0 || d.ivalue >= rank) return bad("scatter axis out of range");
        for (int64_t st : d.ints) {
          if (st < 0) return bad("strides and extent must be non-negative");
        }
        if (val.numel() > 0) {
          if (d.ints.back() == 0) return bad("scatter into an empty axis");
          __int128 hi = d.offset;
          for (int64_t k = 0; k < rank; ++k) {
            const int64_t last = k == d.ivalue ? d.ints.back() - 1 : val.shape[k] - 1;
            hi += static_cast<__int128>(last) * d.ints[k];
          }
          if (d.offset < 0 || hi >= d.numel()) return bad("scatter stores outside its base");
        }
        break;
      }
    }
  }
  for (size_t p = 0; p < param_seen.size(); ++p) {
    if (!param_seen[p])
      return absl::StrCat("params must be numbered 0..n-1: param ", p, " is missing");
  }
  if (g.outputs.empty()) return "a graph returns at least one value";
  for (const Output& o : g.outputs) {
    if (o.dest_param < 0) continue;
    if (static_cast<size_t>(o.dest_param) >= param_seen.size())
      return absl::StrCat("'into param ", o.dest_param, "' names no param");
    int32_t p = g.paramInstr(o.dest_param);
    const NodeDesc& pd = g.instrs[p].d;
    const NodeDesc& vd = g.instrs[o.value].d;
    if (pd.dtype != vd.dtype || pd.numel() != vd.numel())
      return absl::StrCat("%", o.value, " does not fit into param ", o.dest_param);
  }
  return "";
}

}  // namespace kiln::ir
