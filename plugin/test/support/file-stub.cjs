// Stands in for asset imports (svg, css) in Jest; webpack handles them in the real build.
module.exports = 'asset-stub';
