// The endpoint's names for the shared string helpers (stun/text.h).
#pragma once

#include "stun/text.h"

namespace uturn::ice::endpoint {

using text::AsciiLower;
using text::Cat;
using text::EqualsIgnoreCase;
using text::Lower;
using text::ParseDouble;
using text::ParseUnsigned;
using text::Strip;

}  // namespace uturn::ice::endpoint
