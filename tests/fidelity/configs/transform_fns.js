module.exports = {
  shout: (output) => output.toUpperCase() + '!',
  wordCount: (output, context) => String(output.split(' ').length) + ':' + context.vars.t,
};
