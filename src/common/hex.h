// Hexadecimal encoding, lower case.
#pragma once

#include <string>
#include <string_view>

#include "edgetrust/secret.h"
#include "edgetrust/status.h"

namespace edgetrust {

std::string HexEncode(ByteView bytes);
// Accepts upper and lower case; errors on odd length or a non-hex character.
Result<Bytes> HexDecode(std::string_view hex);

}  // namespace edgetrust
