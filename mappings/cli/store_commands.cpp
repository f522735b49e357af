#include "mappings/cli/account_command.hpp"
#include "mappings/cli/command.hpp"
#include "mappings/cli/connector_command.hpp"
#include "mappings/cli/db_command.hpp"
#include "mappings/cli/dead_letters_command.hpp"
#include "mappings/cli/mapping_command.hpp"
#include "mappings/cli/outbox_command.hpp"

namespace ferry::mappings::cli {

const std::vector<Command>& store_commands() {
    static const std::vector<Command> commands = {db_command(),      connector_command(),
                                                  mapping_command(), account_command(),
                                                  outbox_command(),  dead_letters_command()};
    return commands;
}

} // namespace ferry::mappings::cli
