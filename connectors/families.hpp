#pragma once

#include "bridge/core/family.hpp"

namespace ferry::connectors {

/// Every family of connectors this binary is built with.
const core::FamilyList& families();

} // namespace ferry::connectors
