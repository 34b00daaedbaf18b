#include "agent/agent_flags.h"

#include "absl/strings/str_cat.h"

namespace gantry::agent {

AgentFlags::AgentFlags(CLI::App& app) {
  app.add_option("--config", config_path_, "YAML config file; flags override it")
      ->type_name("PATH");
  for (const Setting& s : AgentSettings()) {
    if (s.flag.empty()) continue;
    Flag& f = flags_.emplace_back();
    f.setting = &s;
    const std::string help = s.key.empty() ? s.help : absl::StrCat(s.help, " (file: ", s.key, ")");
    f.option = s.value.repeatable ? app.add_option(s.flag, f.values, help)
                                  : app.add_option(s.flag, f.value, help);
    f.option->type_name(s.value.type);
    if (!s.default_text.empty()) f.option->default_str(s.default_text);
  }
}

absl::StatusOr<AgentConfig> AgentFlags::Resolve() const {
  std::vector<GivenFlag> given;
  for (const Flag& f : flags_) {
    if (f.option->count() == 0) continue;
    given.push_back(
        {f.setting, f.setting->value.repeatable ? f.values : std::vector<std::string>{f.value}});
  }
  return ResolveAgentConfig(config_path_, given);
}

}  // namespace gantry::agent
