const fs = require('fs');
const path = require('path');
const yaml = require('js-yaml');
const { chat } = require('./llm-client');

/**
 * Router provider — tests skill selection, not response quality.
 * Presents all skill descriptions to the model and asks which skill
 * (if any) should handle the user's query. Returns just the skill id.
 *
 * Auto-discovers skills by walking the whole skills/ tree for SKILL.md files,
 * or accepts an explicit list via config.skills.
 *
 * Backend selection + credentials are handled by ./llm-client (foundry / azure /
 * openai / github). See its header for configuration.
 *
 * Config (optional):
 *   skills: [{id, description}] — explicit skill list (overrides auto-discovery)
 *
 * Test case vars:
 *   prompt — the user query to route
 */

const SKILLS_BASE = process.env.SKILLS_BASE || path.resolve(__dirname, '../../skills');

function discoverSkills() {
  const skills = [];

  function walk(dir) {
    if (!fs.existsSync(dir)) return;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const fullPath = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        walk(fullPath);
      } else if (entry.name === 'SKILL.md') {
        try {
          const content = fs.readFileSync(fullPath, 'utf-8');
          const match = content.match(/^---\n([\s\S]*?)\n---/);
          if (match) {
            const frontmatter = yaml.load(match[1]);
            if (frontmatter.name && frontmatter.description) {
              skills.push({
                id: frontmatter.name,
                description: frontmatter.description.trim(),
              });
            }
          }
        } catch (e) { /* skip unreadable files */ }
      }
    }
  }

  walk(SKILLS_BASE);
  return skills;
}

class RouterProvider {
  constructor(options) {
    this.providerId = options.id || 'router-provider';
    this.config = options.config || {};
  }

  id() {
    return this.providerId;
  }

  async callApi(prompt, context) {
    const vars = context.vars || {};
    const userPrompt = vars.prompt;

    if (!userPrompt) {
      return { error: 'Test case must define vars.prompt' };
    }

    // Get skill pool — config override or auto-discover
    const skills = this.config.skills || discoverSkills();
    if (skills.length === 0) {
      return { error: 'No skills discovered. Check skills/providers/ directory or pass config.skills.' };
    }

    const skillList = skills.map(s => `- ${s.id}: ${s.description}`).join('\n');

    const systemMessage = [
      'You are a skill router. Given the user query below, decide which skill (if any) should handle it.',
      '',
      'Available skills:',
      skillList,
      '',
      'Rules:',
      '- Reply with ONLY the skill id (e.g. "aks-troubleshooting") if the query matches a skill.',
      '- Reply with ONLY "none" if no skill is appropriate.',
      '- Do not explain your reasoning. Output only the skill id or "none".',
    ].join('\n');

    const result = await chat(systemMessage, userPrompt);
    if (result.error) {
      return { error: result.error };
    }

    // Normalize: extract first token matching a known skill id or "none"
    const raw = result.output || '';
    const tokens = raw.toLowerCase().split(/[^a-z0-9-]+/).filter(Boolean);
    const allowed = new Set(['none', ...skills.map(s => s.id.toLowerCase())]);
    const output = tokens.find(t => allowed.has(t)) || raw.toLowerCase().trim();

    return { output, tokenUsage: result.tokenUsage };
  }
}

module.exports = RouterProvider;
