// The intrusive red-black tree against std::set, with an augmented value
// (subtree maximum) checked after every step.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <vector>

#include "rbtree.h"

namespace uvm {
namespace {

struct item {
  int key;
  int value;
  int subtree_max;
  rb_node rb;
};

item* item_of(rb_node* n) {
  return rb_entry(n, item, rb);
}
int smax(rb_node* n) {
  return n == nullptr ? -1 : item_of(n)->subtree_max;
}
void update(rb_node* n) {
  item* it = item_of(n);
  it->subtree_max = std::max({it->value, smax(n->left), smax(n->right)});
}
constexpr rb_augment kAug = {update};

void insert(rb_root* root, item* it) {
  rb_node** link = &root->node;
  rb_node* parent = nullptr;
  while (*link != nullptr) {
    parent = *link;
    link = it->key < item_of(parent)->key ? &parent->left : &parent->right;
  }
  rb_link_node(&it->rb, parent, link);
  rb_insert_color(&it->rb, root, &kAug);
}

int check_aug(rb_node* n) {
  if (n == nullptr) return -1;
  int want = std::max({item_of(n)->value, check_aug(n->left), check_aug(n->right)});
  EXPECT_EQ(item_of(n)->subtree_max, want) << "at key " << item_of(n)->key;
  return want;
}

TEST(RbTree, EmptyTree) {
  rb_root root;
  EXPECT_EQ(rb_first(&root), nullptr);
  EXPECT_EQ(rb_last(&root), nullptr);
  EXPECT_EQ(rb_validate(&root), 1);
}

TEST(RbTree, AscendingInsertStaysBalanced) {
  rb_root root;
  std::vector<item> items(1 << 12);
  for (int i = 0; i < static_cast<int>(items.size()); ++i) {
    items[i] = {i, i, 0, {}};
    insert(&root, &items[i]);
  }
  int bh = rb_validate(&root);
  ASSERT_GT(bh, 0);
  // A red-black tree of n nodes has black height at most log2(n + 1).
  EXPECT_LE(bh, 13);
  int k = 0;
  for (rb_node* n = rb_first(&root); n != nullptr; n = rb_next(n)) EXPECT_EQ(item_of(n)->key, k++);
  for (rb_node* n = rb_last(&root); n != nullptr; n = rb_prev(n)) EXPECT_EQ(item_of(n)->key, --k);
}

TEST(RbTree, RandomInsertEraseAgainstSet) {
  std::mt19937 rng(12345);
  constexpr int kKeys = 2000;
  std::vector<item> items(kKeys);
  std::vector<bool> in(kKeys, false);
  std::set<int> model;
  rb_root root;
  for (int step = 0; step < 40000; ++step) {
    int k = static_cast<int>(rng() % kKeys);
    if (in[k]) {
      rb_erase(&items[k].rb, &root, &kAug);
      model.erase(k);
    } else {
      items[k] = {k, static_cast<int>(rng() % 100000), 0, {}};
      insert(&root, &items[k]);
      model.insert(k);
    }
    in[k] = !in[k];
    // Change a payload in place now and then, as vmap's clip does.
    if (step % 7 == 0 && !model.empty()) {
      int j = *model.begin();
      items[j].value = static_cast<int>(rng() % 100000);
      rb_propagate(&items[j].rb, &kAug);
    }
    if (step % 97 == 0 || step < 200) {
      ASSERT_GE(rb_validate(&root), 0) << "step " << step;
      check_aug(root.node);
      auto it = model.begin();
      for (rb_node* n = rb_first(&root); n != nullptr; n = rb_next(n), ++it) {
        ASSERT_NE(it, model.end());
        ASSERT_EQ(item_of(n)->key, *it);
      }
      ASSERT_EQ(it, model.end());
    }
  }
}

}  // namespace
}  // namespace uvm
