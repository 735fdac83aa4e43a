#include "turn/counters.h"

#include "stun/constants.h"

namespace uturn::turn {

CountedMethod CountedMethodFor(uint16_t method) {
  switch (method) {
    case static_cast<uint16_t>(stun::Method::kBinding): return CountedMethod::kBinding;
    case static_cast<uint16_t>(stun::Method::kAllocate): return CountedMethod::kAllocate;
    case static_cast<uint16_t>(stun::Method::kRefresh): return CountedMethod::kRefresh;
    case static_cast<uint16_t>(stun::Method::kCreatePermission):
      return CountedMethod::kCreatePermission;
    case static_cast<uint16_t>(stun::Method::kChannelBind): return CountedMethod::kChannelBind;
    default: return CountedMethod::kOther;
  }
}

std::string_view CountedMethodName(CountedMethod m) {
  switch (m) {
    case CountedMethod::kBinding: return "binding";
    case CountedMethod::kAllocate: return "allocate";
    case CountedMethod::kRefresh: return "refresh";
    case CountedMethod::kCreatePermission: return "create_permission";
    case CountedMethod::kChannelBind: return "channel_bind";
    case CountedMethod::kOther:
    case CountedMethod::kCount: break;
  }
  return "other";
}

size_t ResponseColumn(int code) {
  if (code == 0) return kSuccessColumn;
  for (size_t i = 0; i < kCountedErrorCodes.size(); ++i) {
    if (kCountedErrorCodes[i] == code) return i + 1;
  }
  return kOtherCodeColumn;
}

}  // namespace uturn::turn
