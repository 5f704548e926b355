//! The clients this build reads, by the names users type. The one place
//! that lists them, so a new client is added here and nowhere else.

use crate::adapter::Adapter;
use crate::clients;

/// Every adapter this build knows.
pub fn all() -> Vec<Box<dyn Adapter>> {
    vec![
        Box::new(clients::claude_code::ClaudeCode),
        Box::new(clients::codex::Codex),
        Box::new(clients::aider::Aider),
        Box::new(clients::claude_ai_export::ClaudeAiExport),
        Box::new(clients::gemini::Gemini),
        Box::new(clients::qwen::Qwen),
        Box::new(clients::opencode::Opencode),
        Box::new(clients::goose::Goose),
        Box::new(clients::pi::Pi),
        Box::new(clients::copilot_cli::CopilotCli),
        Box::new(clients::kimi::Kimi),
        Box::new(clients::factory_droid::FactoryDroid),
        Box::new(clients::amp::Amp),
        Box::new(clients::cline::Cline),
        Box::new(clients::grok::Grok),
        Box::new(clients::hermes::Hermes),
        Box::new(clients::openclaw::OpenClaw),
        Box::new(clients::antigravity::Antigravity),
        Box::new(clients::cursor::Cursor),
        Box::new(clients::claude_web::ClaudeWeb),
    ]
}

pub fn by_name(name: &str) -> Option<Box<dyn Adapter>> {
    all().into_iter().find(|a| a.name() == name)
}

pub fn names() -> Vec<&'static str> {
    all().iter().map(|a| a.name()).collect()
}
