#pragma once
// A small JSON parser for the tests of what kiln writes as JSON (the profiler's trace,
// kiln-bench --json): the output must be JSON, not just look like it.
#include <cctype>
#include <map>
#include <string>
#include <vector>

namespace kiln::test_support {

struct Json {
  enum Kind { Null, Bool, Number, String, Array, Object } kind = Null;
  double number = 0;
  std::string text;
  std::vector<Json> items;
  std::map<std::string, Json> fields;
};

class JsonParser {
 public:
  explicit JsonParser(const std::string& s) : s_(s) {}
  // The document, or the error position in `error`.
  bool parse(Json* out) {
    ok_ = true;
    *out = value();
    space();
    return ok_ && at_ == s_.size();
  }

 private:
  void space() {
    while (at_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[at_]))) ++at_;
  }
  bool eat(char c) {
    space();
    if (at_ < s_.size() && s_[at_] == c) {
      ++at_;
      return true;
    }
    return false;
  }
  Json fail() {
    ok_ = false;
    return {};
  }
  std::string string() {
    std::string out;
    while (at_ < s_.size() && s_[at_] != '"') {
      char c = s_[at_++];
      if (static_cast<unsigned char>(c) < 0x20) ok_ = false;
      if (c == '\\') {
        if (at_ >= s_.size()) break;
        char e = s_[at_++];
        if (e == 'u') {
          if (at_ + 4 > s_.size()) break;
          for (int i = 0; i < 4; ++i)
            ok_ = ok_ && std::isxdigit(static_cast<unsigned char>(s_[at_ + i]));
          out += static_cast<char>(std::stoi(s_.substr(at_, 4), nullptr, 16));
          at_ += 4;
        } else if (std::string("\"\\/bfnrt").find(e) != std::string::npos) {
          out += e == 'n' ? '\n' : e == 't' ? '\t' : e;
        } else {
          ok_ = false;
        }
      } else {
        out += c;
      }
    }
    if (at_ >= s_.size()) ok_ = false;
    ++at_;
    return out;
  }
  Json value() {
    if (!ok_) return {};
    Json v;
    if (eat('{')) {
      v.kind = Json::Object;
      if (eat('}')) return v;
      do {
        if (!eat('"')) return fail();
        std::string key = string();
        if (!eat(':')) return fail();
        v.fields[key] = value();
      } while (eat(','));
      if (!eat('}')) return fail();
    } else if (eat('[')) {
      v.kind = Json::Array;
      if (eat(']')) return v;
      do {
        v.items.push_back(value());
      } while (eat(','));
      if (!eat(']')) return fail();
    } else if (eat('"')) {
      v.kind = Json::String;
      v.text = string();
    } else if (s_.compare(at_, 4, "true") == 0 || s_.compare(at_, 4, "null") == 0) {
      v.kind = s_[at_] == 't' ? Json::Bool : Json::Null;
      at_ += 4;
    } else if (s_.compare(at_, 5, "false") == 0) {
      v.kind = Json::Bool;
      at_ += 5;
    } else {
      size_t used = 0;
      try {
        v.number = std::stod(s_.substr(at_, 40), &used);
      } catch (...) {
        return fail();
      }
      if (used == 0) return fail();
      v.kind = Json::Number;
      at_ += used;
    }
    return v;
  }

  const std::string& s_;
  size_t at_ = 0;
  bool ok_ = true;
};

}  // namespace kiln::test_support
