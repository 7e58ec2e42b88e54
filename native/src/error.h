// Internal errors: thrown inside the library, turned into mg_status at the C boundary.
#pragma once

#include <stdexcept>
#include <string>

#include "mcpguard.h"

namespace mg {

class Error : public std::runtime_error {
  public:
    Error(mg_status status, const std::string& message) : std::runtime_error(message), status_(status) {}
    mg_status status() const { return status_; }

  private:
    mg_status status_;
};

[[noreturn]] inline void fail(mg_status status, const std::string& message) { throw Error(status, message); }

inline void require(bool condition, mg_status status, const std::string& message) {
    if (!condition) fail(status, message);
}

}  // namespace mg
