module.exports = {
  hasWorld: (output) => output.includes('world'),
  lengthScore: (output, context) => output.length / Number(context.vars.max),
  graded: (output) => ({ pass: output.startsWith('ok'), score: 0.75, reason: 'graded by file' }),
};
